# measured (engine)
