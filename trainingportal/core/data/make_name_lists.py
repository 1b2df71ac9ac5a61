"""Regenerate the name lists from Faker's person providers (see README.md beside this file).

Run from the repository root: python trainingportal/core/data/make_name_lists.py
"""

import importlib
import re
import unicodedata
from pathlib import Path

LOCALES = (
    "en_US en_GB en_IE en_IN en_NG en_PK en_KE en_NZ es_ES es_MX de_DE fr_FR it_IT pt_BR pt_PT nl_NL pl_PL tr_TR id_ID "
    "sv_SE da_DK no_NO fi_FI cs_CZ ro_RO hu_HU hr_HR ga_IE sw yo_NG ig_NG ha_NG zu_ZA"
).split()
HERE = Path(__file__).parent


def fold(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().strip()


def main() -> None:
    given: set[str] = set()
    surnames: set[str] = set()
    for locale in LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for attr, dest in (
            ("first_names", given),
            ("first_names_male", given),
            ("first_names_female", given),
            ("last_names", surnames),
        ):
            values = getattr(provider, attr, ())
            for name in values.keys() if hasattr(values, "keys") else values:
                name = fold(name)
                if re.fullmatch(r"[A-Za-z][A-Za-z'-]{2,}", name):
                    dest.add(name.lower())
    (HERE / "given_names.txt").write_text("\n".join(sorted(given)) + "\n")
    (HERE / "surnames.txt").write_text("\n".join(sorted(surnames)) + "\n")
    print(f"{len(given)} given names, {len(surnames)} surnames")


if __name__ == "__main__":
    main()
