"""Personal data under the RGPD: declared retention rules (retention.py), their daily application
and a person's erasure request (services.py), the rules core declares for its own data (rules.py)."""
