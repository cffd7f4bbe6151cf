# deployd
