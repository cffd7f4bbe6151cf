# measured
