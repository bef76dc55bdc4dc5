"""The stored password hashes this platform accepts: its own hashers' (see
PASSWORD_HASHERS), with work factors neither weak nor ruinously costly.

One rule for the two doors a hash comes in by: import_users refuses a row with
another (accounts.csv_import), and sign-in refuses to verify one, whatever put
it in the table (signin.hashers): a cost-99 bcrypt is a failed sign-in, not a
500, and a cost-15 one cannot make every guess take seconds of a core.
"""

from __future__ import annotations

from django.contrib.auth.hashers import identify_hasher

# bcrypt's cost is a power of two: 10 is the floor OWASP (2023) names; 14 takes
# about 1.3 s a check here, four times the default 12.
BCRYPT_COST = (10, 14)
# OWASP (2023): at least 600,000 for PBKDF2-HMAC-SHA256; Django's default is
# 1,500,000, and twice that takes about 1.6 s here.
PBKDF2_ITERATIONS = (600_000, 3_000_000)
# Django's scrypt defaults (N=2**14, r=8, p=5), N up to twice that.
SCRYPT_WORK_FACTOR = (2**14, 2**15)
SCRYPT_BLOCK_SIZE = 8
SCRYPT_PARALLELISM = (1, 5)
UNKNOWN = (
    "not a hash this platform can verify: bcrypt, bcrypt_sha256, pbkdf2_sha256 or "
    "scrypt (MD5, SHA1 and unsalted hashes are refused)"
)


def hash_refusal(encoded: str) -> str | None:
    """Say why `encoded` is not an acceptable password hash, or None if it is."""
    try:
        decoded = identify_hasher(encoded).decode(encoded)
    except (ValueError, TypeError, IndexError):
        return UNKNOWN
    algorithm = decoded.get("algorithm")
    if algorithm in ("bcrypt", "bcrypt_sha256"):
        return _outside("bcrypt cost", decoded["work_factor"], BCRYPT_COST)
    if algorithm == "pbkdf2_sha256":
        return _outside("PBKDF2 iterations", decoded["iterations"], PBKDF2_ITERATIONS)
    if algorithm == "scrypt":
        if decoded["block_size"] != SCRYPT_BLOCK_SIZE:
            return (
                f"scrypt block size {decoded['block_size']} is not {SCRYPT_BLOCK_SIZE}"
            )
        return _outside(
            "scrypt work factor", decoded["work_factor"], SCRYPT_WORK_FACTOR
        ) or _outside("scrypt parallelism", decoded["parallelism"], SCRYPT_PARALLELISM)
    return UNKNOWN


def _outside(what: str, value: int, bounds: tuple[int, int]) -> str | None:
    low, high = bounds
    if low <= value <= high:
        return None
    return f"{what} {value:,} is outside {low:,} to {high:,}"
