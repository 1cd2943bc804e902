"""Veterinary codes: species (CID 7454) and breed (CID 7480) from the view's columns or derived
from the descriptions, and the breed registration (item of Breed Registration Sequence).

A modality copies these into the images it makes, where they are Type 1C/2C for an animal
(PS3.3 C.7.1.1). Many practice databases hold only the species and breed as text, so a small
built-in table turns the usual Latin and English names into SNOMED CT codes; a name it does not
know gives no code (an empty sequence), never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .model import BREED_CODE, REGISTRATION_NUMBER, REGISTRY_CODE, SPECIES_CODE

SCT = "SCT"


@dataclass(frozen=True)
class Code:
    value: str
    scheme: str
    meaning: str

    def text_of(self, keyword: str) -> str:
        """The value of one attribute of the code item; '' for those the plugin does not know."""
        if keyword == "CodeValue":
            return self.value
        if keyword == "CodingSchemeDesignator":
            return self.scheme
        if keyword == "CodeMeaning":
            return self.meaning
        return ""


@dataclass(frozen=True)
class Registration:
    number: str
    registry: Code | None


def _key(name: str) -> str:
    """Names compare without case and extra spaces: 'domestic  Shorthair' is 'Domestic shorthair'."""
    return " ".join(name.split()).casefold()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _names(code: Code, *names: str) -> dict[str, Code]:
    return {_key(name): code for name in (code.meaning, *names)}


#: CID 7454 (Animal Taxonomic Rank Values), SNOMED CT: Latin and common English names.
SPECIES: dict[str, Code] = {
    **_names(Code("448771007", SCT, "Canis lupus familiaris"), "Canis familiaris", "dog", "canine"),
    **_names(Code("448169003", SCT, "Felis catus"), "Felis silvestris catus", "cat", "feline"),
    **_names(Code("35354009", SCT, "Equus caballus"), "Equus ferus caballus", "horse", "equine"),
    **_names(Code("34618005", SCT, "Bos taurus"), "cattle", "cow", "bovine"),
    **_names(Code("125099002", SCT, "Ovis aries"), "sheep", "ovine"),
    **_names(Code("125097000", SCT, "Capra hircus"), "Capra aegagrus hircus", "goat", "caprine"),
    **_names(Code("78678003", SCT, "Sus scrofa"), "Sus scrofa domesticus", "Sus domesticus", "pig", "swine"),
    **_names(Code("36571002", SCT, "Oryctolagus cuniculus"), "rabbit"),
    **_names(Code("125076001", SCT, "Cavia porcellus"), "guinea pig"),
    **_names(Code("449310008", SCT, "Mustela putorius furo"), "Mustela furo", "ferret"),
}

#: CID 7480 (Breed), SNOMED CT, for the breeds of the reference in shared/docs/mwl-spec.md.
BREEDS: dict[str, Code] = {
    **_names(Code("62137007", SCT, "Labrador retriever"), "Labrador"),
    **_names(Code("58108001", SCT, "Golden retriever")),
    **_names(Code("42252000", SCT, "German shepherd"), "German shepherd dog", "Alsatian"),
    **_names(Code("44696006", SCT, "Beagle")),
    **_names(Code("59643008", SCT, "French bulldog")),
    **_names(Code("132561000", SCT, "Border Collie")),
    **_names(Code("15020009", SCT, "Domestic shorthaired cat"), "Domestic shorthair", "Domestic short hair", "DSH"),
    **_names(Code("8419007", SCT, "Domestic longhaired cat"), "Domestic longhair", "Domestic long hair", "DLH"),
    **_names(Code("68086001", SCT, "Persian cat"), "Persian"),
    **_names(Code("65694005", SCT, "Siamese cat"), "Siamese"),
    **_names(Code("76467006", SCT, "Quarter horse"), "American quarter horse"),
    **_names(Code("54098002", SCT, "Arabian horse"), "Arabian"),
}
#: CID 7486 mixed-breed codes, by species code: "Mixed breed" means a different code per species.
MIXED_BREEDS: dict[str, Code] = {
    "448771007": Code("132619000", SCT, "Mixed breed dog"),
    "448169003": Code("132653001", SCT, "Mixed breed cat"),
    "35354009": Code("406721004", SCT, "Mixed breed horse"),
}
_MIXED = frozenset({"mixed breed", "mixed-breed", "mixed", "crossbreed", "crossbred", "cross-breed"})
_MIXED_NAMED = {_key(c.meaning): c for c in MIXED_BREEDS.values()}


def code_from(value: Any, scheme: Any, meaning: Any) -> Code | None:
    """A code from three column values, or None unless all three have a value."""
    parts = (_text(value), _text(scheme), _text(meaning))
    return Code(*parts) if all(parts) else None


@lru_cache(maxsize=4096)
def species_from(value: Any, scheme: Any, meaning: Any, description: Any) -> Code | None:
    """The species code: from its columns, else from the species description, else None."""
    return code_from(value, scheme, meaning) or SPECIES.get(_key(_text(description)))


@lru_cache(maxsize=4096)
def breed_from(value: Any, scheme: Any, meaning: Any, description: Any, species: Code | None) -> Code | None:
    """The breed code: from its columns, else from the breed description (a mixed breed needs the species)."""
    explicit = code_from(value, scheme, meaning)
    if explicit:
        return explicit
    key = _key(_text(description))
    if key in _MIXED:
        return MIXED_BREEDS.get(species.value) if species and species.scheme == SCT else None
    return BREEDS.get(key) or _MIXED_NAMED.get(key)


def registration_from(number: Any, value: Any, scheme: Any, meaning: Any) -> Registration | None:
    """The breed registration, or None without a registration number."""
    text = _text(number)
    return Registration(text, code_from(value, scheme, meaning)) if text else None


#: Columns each of the three lookups reads, in the order of their arguments.
SPECIES_COLUMNS = (SPECIES_CODE.value, SPECIES_CODE.scheme, SPECIES_CODE.meaning, "PatientSpeciesDescription")
BREED_COLUMNS = (BREED_CODE.value, BREED_CODE.scheme, BREED_CODE.meaning, "PatientBreedDescription")
REGISTRATION_COLUMNS = (REGISTRATION_NUMBER, REGISTRY_CODE.value, REGISTRY_CODE.scheme, REGISTRY_CODE.meaning)


def _values(row: Mapping[str, Any], columns: tuple[str, ...]) -> list[Any]:
    return [row.get(c) for c in columns]


def species_of(row: Mapping[str, Any]) -> Code | None:
    return species_from(*_values(row, SPECIES_COLUMNS))


def breed_of(row: Mapping[str, Any]) -> Code | None:
    return breed_from(*_values(row, BREED_COLUMNS), species_of(row))


def registration_of(row: Mapping[str, Any]) -> Registration | None:
    return registration_from(*_values(row, REGISTRATION_COLUMNS))
