"""The extract spec (SPEC.yaml): parsed strictly, then resolved against the field catalogue.

See docs/extracts.md for the reference. Errors name the key at fault
(``quasi_identifiers[1].generalize: ...``) and never echo personal data.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vault.policy.catalogue import Category, FieldClass
from vault.privacy.behaviour import AGGREGATES, Aggregate
from vault.privacy.errors import DirectIdentifierError, ExtractSpecError
from vault.privacy.generalize import BUCKET, SUPPRESS

if TYPE_CHECKING:
    from pathlib import Path

    from vault.policy.catalogue import FieldCatalogue, FieldSpec
    from vault.policy.purposes import Purpose, PurposeCatalogue

DEFAULT_PURPOSE = "analytics"
DEFAULT_K = 5
MIN_K = 2
COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PROJECT = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}@\d{1,6}$")
#: Field classes whose values identify a person on their own; never released, whatever the category says.
DIRECT_CLASSES = frozenset({FieldClass.REFERENCE, FieldClass.IDENTITY, FieldClass.CONTACT, FieldClass.NATIONAL_ID})
DIRECT_CATEGORIES = frozenset({Category.DIRECT_IDENTIFIER, Category.CONTACT})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class QuasiIdentifierSpec(_Strict):
    """A quasi-identifier column: the rung to start from and the highest the vault may climb to."""

    field: str = Field(min_length=1)
    generalize: str | None = None
    max: str | None = None
    buckets: tuple[int, ...] | None = None
    top: int | None = None
    bottom: int | None = None


class SensitiveAttributeSpec(_Strict):
    """A sensitive attribute column, released at one fixed rung (never climbed)."""

    field: str = Field(min_length=1)
    generalize: str | None = None
    buckets: tuple[int, ...] | None = None
    top: int | None = None
    bottom: int | None = None


class RangeFilter(_Strict):
    """Inclusive range over normalized values (ISO dates and postal codes compare as text)."""

    from_: str | None = Field(default=None, alias="from")
    to: str | None = None

    @model_validator(mode="after")
    def _bounded(self) -> RangeFilter:
        if self.from_ is None and self.to is None:
            raise ValueError("a range filter needs 'from', 'to' or both")
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError("'from' is after 'to'")
        return self

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _bound_text(cls, value: Any) -> Any:
        return _text(value)

    def accepts(self, value: str) -> bool:
        """Whether ``value`` lies in the range."""
        return (self.from_ is None or value >= self.from_) and (self.to is None or value <= self.to)


def _text(value: Any) -> Any:
    """YAML reads ``1990-01-01`` as a date and ``12345`` as a number: filters compare normalized text."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _column_list(value: Any, key: str) -> Any:
    """Accept ``[name, ...]``, ``[{field: name, ...}, ...]`` and ``{name: level | {...}}``."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):
        out = []
        for name, body in value.items():
            if body is None:
                out.append({"field": name})
            elif isinstance(body, str):
                out.append({"field": name, "generalize": body})
            elif isinstance(body, dict):
                out.append({"field": name, **body})
            else:
                raise ValueError(f"{key}.{name}: expected a generalization name or a mapping")
        return out
    if isinstance(value, list):
        return [{"field": item} if isinstance(item, str) else item for item in value]
    return value


class ExtractSpec(_Strict):
    """What to extract, for which project and purpose, and how private it must be."""

    project: str
    purpose: str = DEFAULT_PURPOSE
    segment: str | None = None
    quasi_identifiers: tuple[QuasiIdentifierSpec, ...] = Field(min_length=1)
    sensitive_attributes: tuple[SensitiveAttributeSpec, ...] = ()
    k: int = DEFAULT_K
    l: int = Field(default=1, ge=1)  # noqa: E741 - the literature's name
    pseudonym_column: str = "pseudonym"
    reference_date: date | None = None
    max_suppression: float = Field(default=0.05, ge=0.0, le=1.0)
    filters: dict[str, tuple[str, ...] | RangeFilter] = Field(default_factory=dict)
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        value = value.strip()
        if not _PROJECT.fullmatch(value):
            raise ValueError("must be 1-100 printable characters (it keys the pseudonyms)")
        return value

    @field_validator("segment")
    @classmethod
    def _segment(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _SEGMENT.fullmatch(value):
            raise ValueError("must be NAME@VERSION, e.g. core-customers@3")
        return value

    @field_validator("quasi_identifiers", mode="before")
    @classmethod
    def _qis(cls, value: Any) -> Any:
        return _column_list(value, "quasi_identifiers")

    @field_validator("sensitive_attributes", mode="before")
    @classmethod
    def _sensitive(cls, value: Any) -> Any:
        return _column_list(value, "sensitive_attributes")

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for name, body in value.items():
                if isinstance(body, list):
                    out[name] = [_text(v) for v in body]
                elif isinstance(body, dict):
                    out[name] = body
                else:
                    out[name] = [_text(body)]
            return out
        return value

    @field_validator("k")
    @classmethod
    def _k(cls, value: int) -> int:
        if value < MIN_K:
            raise ValueError(f"must be at least {MIN_K}: k < {MIN_K} releases unique records (the default is "
                             f"{DEFAULT_K})")
        return value

    @field_validator("pseudonym_column")
    @classmethod
    def _column(cls, value: str) -> str:
        if not COLUMN_NAME.fullmatch(value):
            raise ValueError("must be a column name: a letter or _, then letters, digits or _ (at most 63)")
        return value


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "RangeFilter" in part or part.startswith("tuple["):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(spec)"


def parse_spec(doc: object, *, source: str = "spec") -> ExtractSpec:
    """Validate a parsed YAML document.

    Raises:
        ExtractSpecError: naming the key at fault.
    """
    if not isinstance(doc, dict):
        raise ExtractSpecError(f"{source}: expected a mapping with at least 'project' and 'quasi_identifiers'")
    try:
        return ExtractSpec.model_validate(doc)
    except ValidationError as exc:
        err = _first_error(exc, doc)
        where = _where(tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(tuple(err["loc"]))
            raise ExtractSpecError(f"{source}: unknown key {where!r}; allowed keys: {allowed}") from None
        if err["type"] == "missing":
            raise ExtractSpecError(f"{source}: {where}: required key is missing") from None
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ExtractSpecError(f"{source}: {where}: {msg}") from None


def _first_error(exc: ValidationError, doc: dict[Any, Any]) -> Any:
    """The error to report; for a filter, the one matching the shape given (list of values or range)."""
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    if len(loc) >= 2 and loc[0] == "filters" and isinstance(doc.get("filters"), dict):
        is_range = isinstance(doc["filters"].get(loc[1]), dict)
        for err in errors:
            if tuple(err["loc"])[:2] == loc[:2] and any("RangeFilter" in str(p) for p in err["loc"]) == is_range:
                return err
    return first


def _allowed_keys(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = ExtractSpec
    if loc and loc[0] == "quasi_identifiers":
        model = QuasiIdentifierSpec
    elif loc and loc[0] == "sensitive_attributes":
        model = SensitiveAttributeSpec
    elif loc and loc[0] == "filters":
        return "from, to"
    return ", ".join(f.alias or n for n, f in model.model_fields.items())


def load_spec(path: Path) -> tuple[ExtractSpec, str]:
    """Read and validate SPEC.yaml; returns the spec and the SHA-256 of the file's bytes.

    Raises:
        ExtractSpecError: unreadable file, bad YAML or a bad key (named).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExtractSpecError(f"{path}: cannot read spec: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ExtractSpecError(f"{path}: spec is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ExtractSpecError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_spec(doc, source=str(path)), hashlib.sha256(raw).hexdigest()


# -- resolution against the catalogue ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuasiIdentifier:
    """A resolved quasi-identifier: the rungs the vault may use, from the requested start to the maximum."""

    field: str
    ladder: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SensitiveAttribute:
    """A resolved sensitive attribute and its fixed rung."""

    field: str
    step: str


@dataclass(frozen=True, slots=True)
class BehaviourColumn:
    """A resolved behaviour aggregate: how its numbers are top/bottom-coded before generalization."""

    field: str
    aggregate: Aggregate
    top: int | None
    bottom: int | None
    buckets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExtractPlan:
    """A spec checked against the catalogue and the purpose: everything the extractor needs."""

    spec: ExtractSpec
    purpose: Purpose
    quasi_identifiers: tuple[QuasiIdentifier, ...]
    sensitive_attributes: tuple[SensitiveAttribute, ...]
    filters: dict[str, tuple[str, ...] | RangeFilter]
    behaviour: dict[str, BehaviourColumn] = field(default_factory=dict)

    @property
    def fields(self) -> set[str]:
        """Every catalogue field to decrypt (columns and filters) - never a direct identifier."""
        return ({q.field for q in self.quasi_identifiers} | {s.field for s in self.sensitive_attributes}
                | set(self.filters)) - set(self.behaviour)

    @property
    def columns(self) -> list[str]:
        """Output columns in order: pseudonym, quasi-identifiers, sensitive attributes."""
        return [self.spec.pseudonym_column, *(q.field for q in self.quasi_identifiers),
                *(s.field for s in self.sensitive_attributes)]


def _releasable(catalogue: FieldCatalogue, purpose: Purpose, name: str, key: str) -> FieldSpec:
    if name not in catalogue:
        usable = [f.name for f in catalogue.fields() if _is_releasable(f) and f.name in purpose.fields]
        raise ExtractSpecError(f"{key}: unknown field {name!r}; fields usable for purpose {purpose.id!r}: "
                               f"{', '.join(usable) or '(none)'}")
    field = catalogue[name]
    if field.field_class in DIRECT_CLASSES or field.category in DIRECT_CATEGORIES:
        raise DirectIdentifierError(
            f"{key}: {name!r} is a direct identifier ({field.category}, class {field.field_class}) and is never "
            "released in an extract; rows are identified only by the pseudonym column")
    if not _is_releasable(field):
        raise ExtractSpecError(f"{key}: field {name!r} is classified {field.category} and may not be released "
                               "in an extract")
    if name not in purpose.fields:
        raise ExtractSpecError(f"{key}: purpose {purpose.id!r} does not use field {name!r} (purpose limitation); "
                               f"its fields: {', '.join(purpose.fields)}")
    return field


def _is_releasable(field: FieldSpec) -> bool:
    if field.field_class in DIRECT_CLASSES or field.category in DIRECT_CATEGORIES:
        return False
    return field.category is Category.QUASI_IDENTIFIER or field.field_class is FieldClass.DEMOGRAPHIC


def _rungs(field: FieldSpec) -> tuple[str, ...]:
    return field.generalize or ("value",)


def resolve(spec: ExtractSpec, catalogue: FieldCatalogue, purposes: PurposeCatalogue) -> ExtractPlan:
    """Check the spec against the catalogue and purposes; build the plan.

    Raises:
        ExtractSpecError: unknown purpose or field, a field the purpose does not use, an unknown rung.
        DirectIdentifierError: a direct identifier named as a column or filter.
    """
    purpose = purposes.get(spec.purpose)
    if purpose is None:
        raise ExtractSpecError(f"purpose: unknown purpose {spec.purpose!r}; valid purposes: {', '.join(purposes.ids)}")
    seen: dict[str, str] = {}
    qis: list[QuasiIdentifier] = []
    behaviour: dict[str, BehaviourColumn] = {}
    for i, q in enumerate(spec.quasi_identifiers):
        key = f"quasi_identifiers[{i}]"
        if q.field in seen:
            raise ExtractSpecError(f"{key}: field {q.field!r} is already used by {seen[q.field]}")
        if q.field in AGGREGATES:
            column, rungs = _behaviour(spec, q.field, q.buckets, q.top, q.bottom, key)
            behaviour[q.field] = column
            seen[q.field] = key
            start = q.generalize or rungs[min(1, len(rungs) - 1)]  # numbers start at the finest bucket
            qis.append(QuasiIdentifier(q.field, _ladder(key, q.field, (*rungs, SUPPRESS), start, q.max or rungs[-1])))
            continue
        _no_coding(q.buckets, q.top, q.bottom, q.field, key)
        field = _releasable(catalogue, purpose, q.field, key)
        seen[q.field] = key
        if not field.generalize:
            raise ExtractSpecError(f"{key}: field {q.field!r} has no generalization ladder in the field catalogue")
        rungs = (*field.generalize, SUPPRESS)
        qis.append(QuasiIdentifier(q.field, _ladder(key, q.field, rungs, q.generalize or rungs[0],
                                                    q.max or field.generalize[-1])))
    sensitive: list[SensitiveAttribute] = []
    for i, s in enumerate(spec.sensitive_attributes):
        key = f"sensitive_attributes[{i}]"
        if s.field in seen:
            raise ExtractSpecError(f"{key}: field {s.field!r} is already used by {seen[s.field]}")
        seen[s.field] = key
        if s.field in AGGREGATES:
            column, rungs = _behaviour(spec, s.field, s.buckets, s.top, s.bottom, key)
            behaviour[s.field] = column
            default = rungs[min(1, len(rungs) - 1)]
        else:
            _no_coding(s.buckets, s.top, s.bottom, s.field, key)
            rungs = _rungs(_releasable(catalogue, purpose, s.field, key))
            default = rungs[0]
        step = s.generalize or default
        if step not in rungs:
            raise ExtractSpecError(f"{key}.generalize: {step!r} is not a generalization of {s.field!r}; "
                                   f"choose from {', '.join(rungs)}")
        sensitive.append(SensitiveAttribute(s.field, step))
    if spec.pseudonym_column in seen:
        raise ExtractSpecError(f"pseudonym_column: {spec.pseudonym_column!r} is also a data column; choose another "
                               "name")
    for name in spec.filters:
        if name in AGGREGATES:
            raise ExtractSpecError(f"filters.{name}: behaviour aggregates cannot be filtered on; scope the population "
                                   "with a segment whose definition selects it")
        _releasable(catalogue, purpose, name, f"filters.{name}")
    return ExtractPlan(spec, purpose, tuple(qis), tuple(sensitive), dict(spec.filters), behaviour)


def _ladder(key: str, name: str, rungs: tuple[str, ...], start: str, top: str) -> tuple[str, ...]:
    """The rungs from ``start`` to ``top`` (both must be on the ladder, in that order)."""
    for what, rung in (("generalize", start), ("max", top)):
        if rung not in rungs:
            raise ExtractSpecError(f"{key}.{what}: {rung!r} is not a generalization of {name!r}; "
                                   f"choose from {', '.join(rungs)}")
    lo, hi = rungs.index(start), rungs.index(top)
    if hi < lo:
        raise ExtractSpecError(f"{key}.max: {top!r} is finer than the starting generalization {start!r}; "
                               f"the ladder of {name!r} is {' -> '.join(rungs)}")
    return rungs[lo:hi + 1]


def _no_coding(buckets: tuple[int, ...] | None, top: int | None, bottom: int | None, name: str, key: str) -> None:
    if buckets is not None or top is not None or bottom is not None:
        raise ExtractSpecError(f"{key}: 'buckets', 'top' and 'bottom' apply only to numeric behaviour aggregates "
                               f"({', '.join(a.name for a in AGGREGATES.values() if a.numeric)}), not to {name!r}")


def _behaviour(spec: ExtractSpec, name: str, buckets: tuple[int, ...] | None, top: int | None,
               bottom: int | None, key: str) -> tuple[BehaviourColumn, tuple[str, ...]]:
    """Check a behaviour column; returns it and its rungs (without ``*``), finest first: ``value``, then buckets."""
    agg = AGGREGATES[name]
    if spec.segment is None:
        raise ExtractSpecError(f"{key}: {name!r} is a behaviour aggregate; it is computed for the members of a "
                               "segment snapshot: name the population with 'segment: name@version'")
    if not agg.numeric:
        if buckets is not None or top is not None or bottom is not None:
            raise ExtractSpecError(f"{key}: {name!r} is a code; 'buckets', 'top' and 'bottom' apply only to numeric "
                                   "aggregates")
        return BehaviourColumn(name, agg, None, None, ()), ("value",)
    widths = agg.buckets if buckets is None else buckets
    if any(w < 1 for w in widths):
        raise ExtractSpecError(f"{key}.buckets: bucket widths must be positive whole numbers")
    for finer, coarser in itertools.pairwise(widths):
        if coarser <= finer or coarser % finer:
            raise ExtractSpecError(f"{key}.buckets: each width must be a multiple of the one before it (coarser "
                                   f"buckets merge finer ones): {finer} then {coarser}")
    top = agg.top if top is None else top
    bottom = agg.bottom if bottom is None else bottom
    if top is not None and bottom is not None and top <= bottom:
        raise ExtractSpecError(f"{key}.top: must be above bottom ({bottom})")
    for what, edge in (("top", top), ("bottom", bottom)):
        if edge is not None and widths and edge % widths[-1]:
            raise ExtractSpecError(f"{key}.{what}: {edge} must be a multiple of the widest bucket ({widths[-1]}) so "
                                   "that no bucket straddles it")
    return BehaviourColumn(name, agg, top, bottom, tuple(widths)), ("value", *(f"{BUCKET}{w}" for w in widths))
