"""Stand-in for ftfy (not packaged by Debian 12).

tokenizer/clip/simple_tokenizer.py imports it at module load and calls `ftfy.fix_text` only while
tokenizing text, which no tokenizer fixture does. Identity is exact for text without mojibake.
"""

__version__ = "6.1.1-parity-stub"


def fix_text(text, *args, **kwargs):
    return text
