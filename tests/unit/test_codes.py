"""Veterinary codes: from the view's columns when given, else derived from the descriptions."""

from __future__ import annotations

import pytest

from vetmwl.codes import Code, breed_of, registration_of, species_of

DOG = Code("448771007", "SCT", "Canis lupus familiaris")


@pytest.mark.parametrize(
    ("description", "value"),
    [
        ("Canis lupus familiaris", "448771007"),
        ("Felis catus", "448169003"),
        ("Equus caballus", "35354009"),
        ("Oryctolagus cuniculus", "36571002"),
        ("Mustela putorius furo", "449310008"),
        ("dog", "448771007"),
        ("CAT", "448169003"),
        ("  Horse ", "35354009"),
        ("cattle", "34618005"),
        ("Sheep", "125099002"),
        ("goat", "125097000"),
        ("pig", "78678003"),
        ("Rabbit", "36571002"),
        ("guinea  pig", "125076001"),
        ("Ferret", "449310008"),
    ],
)
def test_species_is_derived_from_latin_and_english_names(description: str, value: str) -> None:
    code = species_of({"PatientSpeciesDescription": description})
    assert code is not None and (code.value, code.scheme) == (value, "SCT")


@pytest.mark.parametrize("description", ["Dragon", "", None, "Canis", "dogs and cats"])
def test_unknown_species_has_no_code(description: str | None) -> None:
    assert species_of({"PatientSpeciesDescription": description}) is None


def test_species_columns_win_over_the_description() -> None:
    row = {
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientSpeciesCodeValue": "L-80700",
        "PatientSpeciesCodingSchemeDesignator": "SRT",
        "PatientSpeciesCodeMeaning": "Canine species",
    }
    assert species_of(row) == Code("L-80700", "SRT", "Canine species")


def test_incomplete_code_columns_are_not_a_code() -> None:
    """A code item needs all three (PS3.3 Table 8.8-1); with one missing, derivation applies."""
    row = {"PatientSpeciesDescription": "cat", "PatientSpeciesCodeValue": "X1", "PatientSpeciesCodeMeaning": "x"}
    assert species_of(row) == Code("448169003", "SCT", "Felis catus")


@pytest.mark.parametrize(
    ("breed", "species", "value"),
    [
        ("Labrador Retriever", "dog", "62137007"),
        ("golden retriever", "dog", "58108001"),
        ("German Shepherd", "dog", "42252000"),
        ("Beagle", "dog", "44696006"),
        ("French Bulldog", "dog", "59643008"),
        ("Border Collie", "dog", "132561000"),
        ("Domestic Shorthair", "cat", "15020009"),
        ("Domestic Longhair", "cat", "8419007"),
        ("Persian", "cat", "68086001"),
        ("Siamese", "cat", "65694005"),
        ("Quarter Horse", "horse", "76467006"),
        ("Arabian", "horse", "54098002"),
        ("Mixed breed", "Canis lupus familiaris", "132619000"),
        ("mixed", "cat", "132653001"),
        ("Crossbred", "horse", "406721004"),
        ("Mixed breed dog", None, "132619000"),
    ],
)
def test_breed_is_derived_from_its_description(breed: str, species: str | None, value: str) -> None:
    code = breed_of({"PatientBreedDescription": breed, "PatientSpeciesDescription": species})
    assert code is not None and code.value == value and code.scheme == "SCT"


@pytest.mark.parametrize(
    ("breed", "species"),
    [("Shiba Inu", "dog"), ("Maine Coon", "cat"), ("Mixed breed", "rabbit"), ("Mixed breed", None), ("", "dog")],
)
def test_unknown_breed_has_no_code(breed: str, species: str | None) -> None:
    assert breed_of({"PatientBreedDescription": breed, "PatientSpeciesDescription": species}) is None


def test_breed_columns_win() -> None:
    row = {
        "PatientBreedDescription": "Shiba Inu",
        "PatientBreedCodeValue": "X-1",
        "PatientBreedCodingSchemeDesignator": "99VET",
        "PatientBreedCodeMeaning": "Shiba Inu",
    }
    assert breed_of(row) == Code("X-1", "99VET", "Shiba Inu")


def test_registration_needs_a_number_and_carries_its_registry() -> None:
    assert registration_of({}) is None
    assert registration_of({"BreedRegistryCodeValue": "109200"}) is None
    registration = registration_of(
        {
            "BreedRegistrationNumber": " SR12345601 ",
            "BreedRegistryCodeValue": "109200",
            "BreedRegistryCodingSchemeDesignator": "DCM",
            "BreedRegistryCodeMeaning": "America Kennel Club",
        }
    )
    assert registration is not None
    assert registration.number == "SR12345601"
    assert registration.registry == Code("109200", "DCM", "America Kennel Club")
    assert registration_of({"BreedRegistrationNumber": "7"}).registry is None
