def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    while b:
        a, b = b, a % b
    return a
