# common (api)
