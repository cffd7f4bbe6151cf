# localcloud
