# implementations
