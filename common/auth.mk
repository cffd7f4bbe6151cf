# common (auth)
