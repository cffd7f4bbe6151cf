# stated
