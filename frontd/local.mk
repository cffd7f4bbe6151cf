# frontd
