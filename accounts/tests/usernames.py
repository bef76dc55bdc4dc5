"""Names the username rules refuse, shared by the validators' and the model's tests."""

INVALID = [
    "",
    "alice",
    "\\corp",
    "corp\\alice",
    "\\corp\\",
    "\\\\corp\\alice",
    "\\corp\\al\\ice",
    " \\corp\\alice",
    "\\corp\\alice\\",
    "\\corp＼alice",  # fullwidth backslash U+FF3C is not a backslash
    "＼corp＼alice",
    "/corp/alice",
]


# (username, the constraint and code that refuse it)
LOOKALIKES = [
    ("\\corp\\alice\n", "visible"),
    ("\\corp\\alice\r", "visible"),
    ("\\corp\\al\tice", "visible"),
    ("\\corp\\al\x1b[31mice", "visible"),
    ("\\uni\\jsmith\u200b", "visible"),  # ZERO WIDTH SPACE
    ("\\uni\\j\u202esmith", "visible"),  # RIGHT-TO-LEFT OVERRIDE
    ("\\uni\\jsm\u00adith", "visible"),  # SOFT HYPHEN
    ("\\uni\\jsmith\U000e0041", "visible"),  # a TAG character
    ("\\ corp\\alice", "visible"),
    ("\\corp \\alice", "visible"),
    ("\\corp\\ alice", "visible"),
    ("\\corp\\alice ", "visible"),
    ("\\corp\\alice\u1680", "visible"),  # OGHAM SPACE MARK
    ("\\uni\\ｊsmith", "nfkc"),  # FULLWIDTH j
    ("\\uni\\ﬁona", "nfkc"),  # the fi ligature
    ("\\uni\\zoe\u0301", "nfkc"),  # e + combining acute: NFKC composes it
    ("\\uni\\j\u00a0smith", "nfkc"),  # NO-BREAK SPACE becomes a space
]
