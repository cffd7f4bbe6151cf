# common (gcp)
