# measured (contract)
