"""Kassenzeichen: the payment reference of a receivable.

Format: 12 digits = fiscal year (4) + sequence per tenant and year (6) + two check digits
(ISO 7064 MOD 97-10, as in IBAN and Leitweg-ID: every single-digit error and every transposition
of adjacent digits is caught). Printed as ``2026-000123-45``. In remittance texts banks and payers
add or drop spaces, hyphens and line breaks; `candidates_in` finds Kassenzeichen tolerant of that.
"""

from __future__ import annotations

import re

from stdnum.iso7064 import mod_97_10

_DIGIT_RUN = re.compile(r"\d{12,}")
_SEPARATORS = re.compile(r"[\s\-./_]+")


def make(year: int, sequence: int) -> str:
    if not (1000 <= year <= 9999) or not (0 < sequence < 1_000_000):
        raise ValueError("Kassenzeichen: Jahr oder laufende Nummer außerhalb des Bereichs")
    base = f"{year:04d}{sequence:06d}"
    return base + mod_97_10.calc_check_digits(base)


def is_valid(kz: str) -> bool:
    return len(kz) == 12 and kz.isdigit() and mod_97_10.is_valid(kz)


def normalise(text: str) -> str:
    """Canonical form of a Kassenzeichen typed by a person: digits only ("2026-000123-45" -> "202600012345")."""
    return re.sub(r"\D", "", text or "")


def display(kz: str) -> str:
    return f"{kz[:4]}-{kz[4:10]}-{kz[10:]}" if len(kz) == 12 else kz


def candidates_in(*texts: str) -> list[str]:
    """Every valid Kassenzeichen in the texts, in order of appearance, without duplicates.

    Separators (spaces, hyphens, dots, slashes, line breaks) are removed first, so a Kassenzeichen
    split by a line break or written with hyphens is found; runs of more than 12 digits (other
    numbers glued to it) are searched with a sliding window, and the check digits weed out the
    windows that are not Kassenzeichen.
    """
    found: list[str] = []
    for text in texts:
        if not text:
            continue
        # Only the text without separators is searched: a digit run of the text as written has no separator in
        # it, so it stays in one piece inside a run of the stripped text, and each of its windows is a window
        # there too (searching the text as written as well, as before, never found another candidate).
        for m in _DIGIT_RUN.finditer(_SEPARATORS.sub("", text)):
            run = m.group()
            for i in range(len(run) - 11):
                kz = run[i:i + 12]
                # ISO 7064 MOD 97-10 of a digit string is the number mod 97 (= 1 when valid); int() in C,
                # not stdnum's per-character loop: this runs for every window of every remittance text
                if kz not in found and kz.isascii() and 2000 <= int(kz[:4]) <= 2099 and int(kz) % 97 == 1:
                    found.append(kz)
    return found


def near_misses(*texts: str, limit: int = 200) -> dict[str, str]:
    """Kassenzeichen the payer probably meant, for the clearing list's suggestions: {Kassenzeichen: how}.

    - a 12-digit number that looks like a Kassenzeichen (year 2000-2099) but fails the check: every valid
      Kassenzeichen one typed digit or one swap of adjacent digits away (the check digits catch exactly these
      errors, so each window has at most 12 + 11 such neighbours);
    - a 10-digit number year + sequence (the check digits left out): the one Kassenzeichen it completes.
    Valid Kassenzeichen in the text are not repeated here (`candidates_in` finds those)."""
    out: dict[str, str] = {}
    valid = set(candidates_in(*texts))
    for text in texts:
        if not text:
            continue
        for m in re.finditer(r"\d{10,20}", _SEPARATORS.sub("", text)):
            run = m.group()
            if not run.isascii():
                continue
            if len(run) == 10 and 2000 <= int(run[:4]) <= 2099 and int(run[4:]) > 0:
                out.setdefault(run + mod_97_10.calc_check_digits(run), "ohne Prüfziffer")
                continue
            for i in range(len(run) - 11):
                kz = run[i:i + 12]
                if kz in valid or not 2000 <= int(kz[:4]) <= 2099 or int(kz) % 97 == 1:
                    continue
                for j in range(12):
                    for d in "0123456789":
                        if d != kz[j]:
                            v = kz[:j] + d + kz[j + 1:]
                            if int(v) % 97 == 1 and 2000 <= int(v[:4]) <= 2099:
                                out.setdefault(v, "Tippfehler")
                for j in range(11):
                    if kz[j] != kz[j + 1]:
                        v = kz[:j] + kz[j + 1] + kz[j] + kz[j + 2:]
                        if int(v) % 97 == 1 and 2000 <= int(v[:4]) <= 2099:
                            out.setdefault(v, "Zahlendreher")
                if len(out) >= limit:
                    return out
    return out
