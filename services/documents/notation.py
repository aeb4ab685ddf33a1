"""Numbers, notations and date lines of administrative documents (Decree 30/2020/NĐ-CP).

A notation is the number, ``/``, then groups joined by ``-`` without spaces: a typed document
``15/QĐ-HLHPN`` (type code, issuer), a công văn ``05/HLHPN-VP`` (issuer, drafting unit).
Groups are upper case, except that type codes keep their official spelling (``QyĐ``, ``CTr``,
``TTr``, ``TrS``) so they stay distinguishable from ``QĐ``, ``CT`` and ``TC``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from services.errors import InvalidInput
from services.i18n import _l

__all__ = [
    "OFFICIAL_LETTER",
    "TYPE_CODES",
    "canonical_type_code",
    "format_number",
    "notation",
    "notation_suffix",
    "vn_date_line",
]

#: Type code → the type's title as printed on the document (upper case).
TYPE_CODES: Final[dict[str, str]] = {
    "NQ": "NGHỊ QUYẾT",
    "QĐ": "QUYẾT ĐỊNH",
    "CT": "CHỈ THỊ",
    "QC": "QUY CHẾ",
    "QyĐ": "QUY ĐỊNH",
    "TC": "THÔNG CÁO",
    "TB": "THÔNG BÁO",
    "HD": "HƯỚNG DẪN",
    "CTr": "CHƯƠNG TRÌNH",
    "KH": "KẾ HOẠCH",
    "PA": "PHƯƠNG ÁN",
    "ĐA": "ĐỀ ÁN",
    "DA": "DỰ ÁN",
    "BC": "BÁO CÁO",
    "BB": "BIÊN BẢN",
    "TTr": "TỜ TRÌNH",
    "HĐ": "HỢP ĐỒNG",
    "CĐ": "CÔNG ĐIỆN",
    "BGN": "BẢN GHI NHỚ",
    "BTT": "BẢN THỎA THUẬN",
    "GUQ": "GIẤY ỦY QUYỀN",
    "GM": "GIẤY MỜI",
    "GGT": "GIẤY GIỚI THIỆU",
    "GNP": "GIẤY NGHỈ PHÉP",
    "PG": "PHIẾU GỬI",
    "PC": "PHIẾU CHUYỂN",
    "PB": "PHIẾU BÁO",
    "SY": "BẢN SAO Y",
    "TrS": "BẢN TRÍCH SAO",
    "SL": "BẢN SAO LỤC",
}

#: Pseudo type code of a công văn, which has no type code in its notation.
OFFICIAL_LETTER: Final = "CV"

# Every official code folds to a distinct key, so a code typed in any case maps back to one.
_BY_FOLDED: Final = {code.casefold(): code for code in TYPE_CODES}
_GROUP: Final = re.compile(r"^[^\s/\-]+$")


def canonical_type_code(code: str) -> str:
    """Return the official spelling of a type code given in any case (``qyđ`` → ``QyĐ``)."""
    found = _BY_FOLDED.get(code.strip().casefold())
    if found is None:
        raise InvalidInput(
            _l("Unknown document type code {code!r}.", code=code),
            type_code=code,
        )
    return found


def _group(value: str, what: str) -> str:
    value = value.strip()
    if not _GROUP.fullmatch(value):
        raise InvalidInput(
            _l("Abbreviation {value!r} ({what}) must be non-empty, without spaces, '/' or '-'.", value=value, what=what),
        )
    return value.upper()


def format_number(number: int) -> str:
    """A document or arrival number as printed: leading zero under 10 (``5`` → ``05``)."""
    if number < 1:
        raise InvalidInput(_l("Document numbers start at 1."))
    return f"{number:02d}"


def notation_suffix(*, type_code: str | None, org_abbr: str, unit_abbr: str | None = None) -> str:
    """The part after the number: ``/QĐ-HLHPN`` or, for a công văn, ``/HLHPN-VP``.

    ``type_code`` None (or ``"CV"``) means a công văn. A typed document normally has no unit;
    one given is appended, as some issuers do for documents of a department.
    """
    groups: list[str] = []
    if type_code is not None and type_code.strip().upper() != OFFICIAL_LETTER:
        groups.append(canonical_type_code(type_code))
    groups.append(_group(org_abbr, "cơ quan"))
    if unit_abbr:
        groups.append(_group(unit_abbr, "đơn vị"))
    return "/" + "-".join(groups)


def notation(*, number: int, type_code: str | None, org_abbr: str, unit_abbr: str | None = None) -> str:
    """Number and notation as printed after ``Số:``: ``15/QĐ-HLHPN``, ``05/HLHPN-VP``."""
    return format_number(number) + notation_suffix(type_code=type_code, org_abbr=org_abbr, unit_abbr=unit_abbr)


def vn_date_line(place: str, date: dt.date) -> str:
    """Place and date as printed under the motto: ``Bến Tre, ngày 05 tháng 01 năm 2026``.

    Days under 10 and the months 1 and 2 take a leading zero; other months do not
    (``ngày 15 tháng 3 năm 2026``).
    """
    month = f"{date.month:02d}" if date.month < 3 else str(date.month)
    return f"{place.strip()}, ngày {date.day:02d} tháng {month} năm {date.year}"
