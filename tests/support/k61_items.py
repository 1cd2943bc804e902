"""Worklist items that together carry every attribute of the Modality Worklist model (PS3.4 K.6-1).

:func:`k61_items` gives three items in the shape of Orthanc's ``POST /worklists/create`` ``Tags``
(and of the importer's input): a German shepherd for an X-ray (its species, breed and registration
codes in the form that fits the code columns), a horse for a CT with contrast (its codes in forms
that do not fit: a code with a Coding Scheme Version, two breed codes, two registrations), and a
laboratory mouse for a CT (the strain attributes, a Japanese owner). Between them they hold every
attribute of ``vetmwl.model.ROOT_ATTRIBUTES`` and ``STEP_ATTRIBUTES`` except those in
:data:`NOT_GIVEN`, each with a value valid for its VR (pydicom's ``validate_value``), sequences
with nested items, multi-valued values and names in several scripts.

Every value is a string (Orthanc's JSON-to-DICOM takes strings), and every key is a keyword that
DCMTK's dictionary knows as well, except the two retired attributes of the model, which are given
as tags ``gggg,eeee`` (DCMTK names retired attributes ``RETIRED_...``).

The other helpers compare items with datasets: :func:`normalized_item` and
:func:`normalized_dataset` turn both into the same comparable form (values by VR: numbers as
numbers, times and dates as such, text without padding), and :func:`row_dataset` rebuilds the
Dataset that a row of the worklist table holds (its columns and its catch-all of DICOM JSON).
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from vetmwl import model
from vetmwl.dicomtime import parse_date, parse_datetime_span, parse_time_span

SPS = model.SPS_SEQUENCE
#: Attributes of the model that no item gives: the character set (the JSON is Unicode), the time
#: zone offset (times are the clinic's) and the start date-time (the view's, from date and time).
NOT_GIVEN = frozenset({model.CHARACTER_SET, "TimezoneOffsetFromUTC", model.START_DATETIME})
#: The two retired attributes of the model, given by tag (DCMTK knows them as RETIRED_...).
REASON_FOR_THE_IMAGING_SERVICE_REQUEST = "0040,2001"
MEDICAL_RECORD_LOCATOR = "0010,1090"


def uid(name: str) -> str:
    """A UID of the 2.25 root, the same on every run for one name."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, f'https://vetmwl.invalid/k61/{name}').int}"


def code(value: str, scheme: str, meaning: str, **extra: Any) -> dict[str, Any]:
    return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning, **extra}


def _person(code_value: str, name: str) -> list[dict[str, Any]]:
    """A Person Identification Macro item: the clinic's staff code and the institution."""
    return [
        {
            "PersonIdentificationCodeSequence": [code(code_value, "99RVC", name)],
            "InstitutionName": "Riverside Veterinary Clinic",
        }
    ]


def _issuer(namespace: str) -> list[dict[str, Any]]:
    return [{"LocalNamespaceEntityID": namespace, "UniversalEntityID": uid(namespace), "UniversalEntityIDType": "ISO"}]


def _bello() -> dict[str, Any]:
    """A dog for a thorax X-ray: nearly every root attribute, codes that fit the columns."""
    return {
        # Requested Procedure
        "RequestedProcedureID": "RP26110001",
        "RequestedProcedureDescription": "Thorax, 3 views",
        "RequestedProcedureCodeSequence": [code("XR-THX-3", "99RVC", "XR Thorax 3 views", CodingSchemeVersion="2026")],
        "StudyInstanceUID": uid("study/bello"),
        "StudyDate": "20261127",
        "StudyTime": "093000",
        "StudyDescription": "XR Thorax",
        "ReferencedStudySequence": [
            {"ReferencedSOPClassUID": "1.2.840.10008.3.1.2.3.1", "ReferencedSOPInstanceUID": uid("earlier/bello")}
        ],
        "RequestedProcedurePriority": "ROUTINE",
        "PatientTransportArrangements": "Walks on a lead",
        "ReasonForTheRequestedProcedure": "Coughing for two weeks",
        "ReasonForRequestedProcedureCodeSequence": [code("49727002", "SCT", "Cough")],
        "RequestedProcedureComments": "Sedation only if the dog does not lie still",
        "RequestedProcedureLocation": "Radiology",
        "ConfidentialityCode": "NORMAL",
        "ReportingPriority": "HIGH",
        "NamesOfIntendedRecipientsOfResults": "Okafor^James^^Dr\\Carter^Emily^^Dr",
        "IntendedRecipientsOfResultsIdentificationSequence": _person("VET-0007", "Okafor^James"),
        # Imaging Service Request
        "AccessionNumber": "2611270001",
        "IssuerOfAccessionNumberSequence": _issuer("RVC-RIS"),
        "RequestingPhysician": "Okafor^James^^Dr",
        "RequestingPhysicianIdentificationSequence": _person("VET-0007", "Okafor^James"),
        "ReferringPhysicianName": "Moreau^Julien^^Dr",
        "ReferringPhysicianIdentificationSequence": _person("VET-0012", "Moreau^Julien"),
        "RequestingService": "Internal Medicine",
        "RequestingServiceCodeSequence": [code("IM", "99RVC", "Internal Medicine")],
        "IssueDateOfImagingServiceRequest": "20261126",
        "IssueTimeOfImagingServiceRequest": "164512.250000",
        "PlacerOrderNumberImagingServiceRequest": "PO-2611-0042",
        "FillerOrderNumberImagingServiceRequest": "FO-2611-0042",
        "OrderEnteredBy": "Hughes^Sam",
        "OrderEntererLocation": "Front desk",
        "OrderCallbackPhoneNumber": "+49 228 555012",
        REASON_FOR_THE_IMAGING_SERVICE_REQUEST: "Suspected pneumonia",
        "ImagingServiceRequestComments": "Owner waits in the lobby",
        # Visit
        "AdmissionID": "ADM-2611-017",
        "IssuerOfAdmissionIDSequence": _issuer("RVC-ADT"),
        "CurrentPatientLocation": "Kennel 4",
        "PatientInstitutionResidence": "Riverside Veterinary Clinic, ward B",
        "VisitComments": "Admitted overnight for observation",
        "AdmittingDate": "20261126",
        "AdmittingTime": "1730",
        "RouteOfAdmissions": "Referral",
        "AdmittingDiagnosesDescription": "Pneumonia\\Dehydration",
        "AdmittingDiagnosesCodeSequence": [
            code("233604007", "SCT", "Pneumonia"),
            code("34095006", "SCT", "Dehydration"),
        ],
        "ReferencedPatientSequence": [
            {"ReferencedSOPClassUID": "1.2.840.10008.3.1.2.1.1", "ReferencedSOPInstanceUID": uid("patient/bello")}
        ],
        "InstitutionName": "Riverside Veterinary Clinic",
        "InstitutionAddress": "12 River Road, 53111 Bonn",
        "InstitutionCodeSequence": [code("RVC01", "99RVC", "Riverside Veterinary Clinic")],
        "ServiceEpisodeID": "EP-2611-009",
        "ServiceEpisodeDescription": "Respiratory work-up",
        "IssuerOfServiceEpisodeIDSequence": _issuer("RVC-EP"),
        # Patient
        "PatientName": "Müller^Bello",
        "PatientID": "000042",
        "IssuerOfPatientID": "RVC",
        "IssuerOfPatientIDQualifiersSequence": [
            {"UniversalEntityID": uid("patients"), "UniversalEntityIDType": "ISO", "IdentifierTypeCode": "MR"}
        ],
        "OtherPatientIDsSequence": [
            {
                "PatientID": "276098106123456",
                "IssuerOfPatientID": "ISO 11784 microchip",
                "TypeOfPatientID": "RFID",
                "IssuerOfPatientIDQualifiersSequence": [
                    {"UniversalEntityID": uid("microchips"), "UniversalEntityIDType": "ISO"}
                ],
            }
        ],
        "PatientBirthName": "vom Rheintal^Bello",
        "PatientMotherBirthName": "vom Rheintal^Asta",
        MEDICAL_RECORD_LOCATOR: "Cabinet 3, folder 42",
        "PatientBirthDate": "20190117",
        "PatientBirthTime": "0615",
        "PatientSex": "M",
        "PatientAge": "007Y",
        "PatientSize": "0.62",
        "PatientSizeCodeSequence": [code("LARGE", "99RVC", "Large dog")],
        "PatientWeight": "38.5",
        "PatientAddress": "Rheinstraße 5, 53111 Bonn",
        "CountryOfResidence": "Germany",
        "RegionOfResidence": "Nordrhein-Westfalen",
        "PatientTelephoneNumbers": "+49 228 123456\\+49 170 1234567",
        "EthnicGroup": "Not recorded",
        "Occupation": "Guide dog",
        "PatientReligiousPreference": "None",
        "PatientComments": "Friendly; muzzle not needed",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientSpeciesCodeSequence": [code("448771007", "SCT", "Canis lupus familiaris")],
        "PatientBreedDescription": "German Shepherd",
        "PatientBreedCodeSequence": [code("42252000", "SCT", "German shepherd")],
        "BreedRegistrationSequence": [
            {
                "BreedRegistrationNumber": "DN12345601",
                "BreedRegistryCodeSequence": [code("109200", "DCM", "America Kennel Club")],
            }
        ],
        "ResponsiblePerson": "Müller^Hans",
        "ResponsiblePersonRole": "OWNER",
        "PatientSexNeutered": "UNALTERED",
        "MedicalAlerts": "Bites when in pain\\Epilepsy",
        "Allergies": "Penicillin\\Chicken protein",
        "PregnancyStatus": "4",
        "SmokingStatus": "NO",
        "AdditionalPatientHistory": "Vaccinated against kennel cough in March",
        "SpecialNeeds": "Needs a ramp, not stairs",
        "PatientState": "Calm, not sedated",
        "PertinentDocumentsSequence": [
            {
                "ReferencedSOPClassUID": "1.2.840.10008.5.1.4.1.1.104.1",
                "ReferencedSOPInstanceUID": uid("referral/bello"),
                "PurposeOfReferenceCodeSequence": [code("REFERRAL", "99RVC", "Referral letter")],
                "DocumentTitle": "Referral letter",
            }
        ],
        "ConfidentialityConstraintOnPatientDataDescription": "Owner asks not to be called at work",
        SPS: [
            {
                "ScheduledStationAETitle": "DX_ROOM1",
                "ScheduledProcedureStepStartDate": "20261127",
                "ScheduledProcedureStepStartTime": "093000",
                "ScheduledProcedureStepEndDate": "20261127",
                "ScheduledProcedureStepEndTime": "100000",
                "Modality": "DX",
                "ScheduledPerformingPhysicianName": "Hughes^Sam",
                "ScheduledPerformingPhysicianIdentificationSequence": _person("TEC-0003", "Hughes^Sam"),
                "ScheduledProcedureStepDescription": "Thorax, 3 views",
                "ScheduledProtocolCodeSequence": [
                    code("XR-THX-LAT", "99RVC", "Thorax, lateral", CodingSchemeVersion="2026"),
                    code(
                        "XR-THX-VD",
                        "99RVC",
                        "Thorax, ventrodorsal",
                        ProtocolContextSequence=[
                            {
                                "ValueType": "TEXT",
                                "ConceptNameCodeSequence": [code("121106", "DCM", "Comment")],
                                "TextValue": "Take in full inspiration",
                            }
                        ],
                    ),
                ],
                "ScheduledProcedureStepID": "SPS2611270001",
                "ScheduledStationName": "DR Room 1",
                "ScheduledStationNameCodeSequence": [code("DR1", "99RVC", "DR Room 1")],
                "ScheduledStationClassCodeSequence": [code("DR", "99RVC", "Digital radiography room")],
                "ScheduledProcedureStepLocation": "Radiology",
                "PreMedication": "Butorphanol 0.2 mg/kg IV",
                "ScheduledProcedureStepStatus": "SCHEDULED",
                "CommentsOnTheScheduledProcedureStep": "Two people needed to position him",
                "AnatomicalOrientationType": "QUADRUPED",
                "ScheduledProcedureStepModificationDateTime": "20261126164512+0100",
            }
        ],
    }


def _argos() -> dict[str, Any]:
    """A horse for a CT with contrast: codes in forms that do not fit the code columns."""
    return {
        "RequestedProcedureID": "RP26110002",
        "RequestedProcedureDescription": "CT head with contrast",
        "StudyDescription": "CT Head",
        "AccessionNumber": "2611270002",
        "RequestingPhysician": "Lindqvist^Anna^^Dr",
        "ReferringPhysicianName": "Παπαδάκης^Γιώργος^^Dr",
        "AdmissionID": "ADM-2611-018",
        "CurrentPatientLocation": "Stable 2",
        "PatientName": "Παπαδόπουλος^Άργος",
        "PatientID": "000043",
        "IssuerOfPatientID": "RVC",
        "PatientBirthDate": "20150322",
        "PatientSex": "F",
        "PatientAge": "011Y",
        "PatientSize": "1.52",
        "PatientWeight": "447",
        "PatientSpeciesDescription": "Equus caballus",
        # A code with a Coding Scheme Version: more than the three columns hold.
        "PatientSpeciesCodeSequence": [code("35354009", "SCT", "Equus caballus", CodingSchemeVersion="20260101")],
        "PatientBreedDescription": "Arabian",
        # Two codes: the columns hold one.
        "PatientBreedCodeSequence": [
            code("54098002", "SCT", "Arabian horse"),
            code("ARAB-PB", "99RVC", "Purebred Arabian"),
        ],
        # Registered with two registries: the columns hold one registration.
        "BreedRegistrationSequence": [
            {
                "BreedRegistrationNumber": "GR-AR-0042",
                "BreedRegistryCodeSequence": [code("GSB", "99RVC", "Greek Stud Book")],
            },
            {"BreedRegistrationNumber": "WAHO-77812"},
        ],
        "ResponsiblePerson": "Παπαδόπουλος^Νίκος",
        "ResponsiblePersonRole": "AGENT",
        "ResponsibleOrganization": "Στάβλος Άργους",
        "PatientSexNeutered": "UNALTERED",
        "MedicalAlerts": "Kicks\\Needle-shy",
        "Allergies": "Iodine contrast (mild urticaria, 2024)",
        "PregnancyStatus": "1",
        "LastMenstrualDate": "20261102",
        "SpecialNeeds": "Standing sedation, padded stocks",
        "PatientState": "Fasted since 06:00",
        SPS: [
            {
                "ScheduledStationAETitle": "CT_SUITE",
                "ScheduledProcedureStepStartDate": "20261127",
                "ScheduledProcedureStepStartTime": "1400",
                "Modality": "CT",
                "ScheduledPerformingPhysicianName": "Kim^Jae",
                "ScheduledProcedureStepDescription": "CT head, without and with contrast",
                "ScheduledProtocolCodeSequence": [code("CT-HEAD-C", "99RVC", "CT head with contrast")],
                "ScheduledProcedureStepID": "SPS2611270002",
                "ScheduledStationName": "CT Suite",
                "ScheduledProcedureStepLocation": "Imaging",
                "PreMedication": "Detomidine 0.01 mg/kg IV",
                "ScheduledProcedureStepStatus": "ARRIVED",
                "CommentsOnTheScheduledProcedureStep": "Premedicate 20 minutes before",
                "RequestedContrastAgent": "Iohexol 300 mgI/ml, 1 ml/kg",
                "ScheduledSpecimenSequence": [
                    {
                        "SpecimenIdentifier": "CSF-2611-02",
                        "SpecimenUID": uid("specimen/argos"),
                        "ContainerIdentifier": "T-88",
                    }
                ],
                "AnatomicalOrientationType": "QUADRUPED",
            }
        ],
    }


def _mouse() -> dict[str, Any]:
    """A laboratory mouse for a micro-CT: the strain attributes, a Japanese laboratory."""
    return {
        "RequestedProcedureID": "RP26110003",
        "RequestedProcedureDescription": "Micro-CT whole body",
        "AccessionNumber": "2611270003",
        "PatientName": "山田研究室^マウス42",
        "PatientID": "LAB-M-0042",
        "PatientBirthDate": "20260801",
        "PatientSex": "F",
        "PatientWeight": "0.021",
        "PatientSpeciesDescription": "Mus musculus",
        "PatientSpeciesCodeSequence": [code("447612001", "SCT", "Mus musculus")],
        "StrainDescription": "Inbred strain, black coat",
        "StrainNomenclature": "C57BL/6J",
        "StrainCodeSequence": [code("000664", "99JAX", "C57BL/6J")],
        "StrainAdditionalInformation": "Obtained from the university animal facility",
        "StrainStockSequence": [
            {
                "StrainStockNumber": "000664",
                "StrainSource": "The Jackson Laboratory",
                "StrainSourceRegistryCodeSequence": [code("JAX", "99RVC", "The Jackson Laboratory")],
            }
        ],
        "GeneticModificationsSequence": [
            {"GeneticModificationsDescription": "Wild type", "GeneticModificationsNomenclature": "+/+"}
        ],
        "ResponsiblePerson": "山田^太郎",
        "ResponsiblePersonRole": "INVESTIGATOR",
        "ResponsibleOrganization": "山田研究室",
        SPS: [
            {
                "ScheduledStationAETitle": "CT_SUITE",
                "ScheduledProcedureStepStartDate": "20261128",
                "ScheduledProcedureStepStartTime": "081500",
                "Modality": "CT",
                "ScheduledProcedureStepID": "SPS2611280003",
                "ScheduledProcedureStepStatus": "SCHEDULED",
                "AnatomicalOrientationType": "QUADRUPED",
            }
        ],
    }


def k61_items() -> list[dict[str, Any]]:
    """Three worklist items that together hold every attribute of the model (but :data:`NOT_GIVEN`)."""
    return copy.deepcopy([_bello(), _argos(), _mouse()])


# -- comparing items, datasets and rows ------------------------------------------------------------
#: VRs whose value is one text even with backslashes in it.
_SINGLE_TEXT = frozenset({"LT", "ST", "UT", "UR"})
_INTEGERS = frozenset({"IS", "US", "SS", "UL", "SL", "UV", "SV"})


def keyword_of_key(key: str) -> str:
    """The keyword of an item's key: a keyword, or a tag ``gggg,eeee``."""
    if tag_for_keyword(key) is not None:
        return key
    return keyword_for_tag(int(key.replace(",", ""), 16))


def _vr(keyword: str) -> str:
    return dictionary_VR(tag_for_keyword(keyword)).split(" or ")[0]


def _normal(vr: str, text: str) -> Any:
    if vr == "DS":
        return Decimal(text)
    if vr in _INTEGERS:
        return int(text)
    if vr in ("FL", "FD"):
        return float(text)
    if vr == "DA":
        return parse_date(text)
    if vr == "TM":
        return parse_time_span(text)[0]
    if vr == "DT":
        offset = text[-5:] if text[-5:-4] in ("+", "-") else ""
        return parse_datetime_span(text)[0], offset
    return text.rstrip(" ") if vr in ("LT", "ST", "UT") else text.strip(" ")


def normalized_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item (JSON shape) as ``{keyword: value}``: values by VR, empty ones and the character set left out."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        keyword = keyword_of_key(key)
        if keyword == model.CHARACTER_SET or value is None or value == "" or value == []:
            continue
        vr = _vr(keyword)
        if vr == "SQ":
            out[keyword] = [normalized_item(i) for i in value]
            continue
        texts = [str(value)] if vr in _SINGLE_TEXT else str(value).split("\\")
        out[keyword] = tuple(_normal(vr, t) for t in texts)
    return out


def normalized_dataset(dataset: Dataset) -> dict[str, Any]:
    """A Dataset in the form of :func:`normalized_item`."""
    out: dict[str, Any] = {}
    for element in dataset:
        if element.keyword == model.CHARACTER_SET or element.value is None or element.value == "":
            continue
        if element.VR == "SQ":
            if len(element.value):
                out[element.keyword] = [normalized_dataset(i) for i in element.value]
            continue
        values = list(element.value) if element.VM > 1 else [element.value]
        out[element.keyword] = tuple(_normal(element.VR, str(v)) for v in values)
    return out


_COLUMN_NAMES = {
    name.lower(): name
    for name in (*model.ROOT_ATTRIBUTES, *model.STEP_ATTRIBUTES, *model.CODE_COLUMNS, model.CATCH_ALL)
    if model.source_of(name) is not None
}


def _dicom_text(keyword: str, value: Any) -> Any:
    """A column's value as the DICOM value pydicom takes for the attribute."""
    vr = model.vr_of(keyword)
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d%H%M%S.%f" if value.microsecond else "%Y%m%d%H%M%S")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if vr == "DA":  # text, as SQLite keeps it
        return value.replace("-", "")
    if isinstance(value, Decimal | float | int):
        return format(Decimal(str(value)).normalize(), "f") if vr == "DS" else value
    text = str(value)
    return text if vr in _SINGLE_TEXT or "\\" not in text else text.split("\\")


def _code_item(row: dict[str, Any], columns: model.CodeColumns) -> Dataset | None:
    values = [row.get(name) for name in columns]
    if not all(values):
        return None
    item = Dataset()
    for keyword, value in zip(model.CODE_ITEM_KEYWORDS, values, strict=True):
        setattr(item, keyword, value)
    return item


def row_dataset(row: dict[str, Any]) -> Dataset:
    """The worklist item a row of the table holds: its columns (any spelling of their names) and its
    catch-all, with the step's attributes in the single Scheduled Procedure Step item."""
    values = {_COLUMN_NAMES[k.lower()]: v for k, v in row.items() if k.lower() in _COLUMN_NAMES}
    values = {k: v for k, v in values.items() if v is not None and v != ""}
    root, step = Dataset(), Dataset()
    for keyword, value in values.items():
        source = model.source_of(keyword)
        target = step if model.level_of(keyword) is model.Level.STEP else root
        if source is model.Source.START:
            start = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            step.ScheduledProcedureStepStartDate = start.strftime("%Y%m%d")
            step.ScheduledProcedureStepStartTime = start.strftime("%H%M%S.%f" if start.microsecond else "%H%M%S")
        elif source is model.Source.VALUE:
            setattr(target, keyword, _dicom_text(keyword, value))
        elif source is model.Source.JSON_SEQUENCE:
            setattr(target, keyword, Sequence([Dataset.from_json(i) for i in json.loads(value)]))
    for sequence, columns in model.CODE_SEQUENCES.items():
        item = _code_item(values, columns)
        if item is not None:
            setattr(root, sequence, [item])
    if values.get(model.REGISTRATION_NUMBER):
        registration = Dataset()
        registration.BreedRegistrationNumber = values[model.REGISTRATION_NUMBER]
        registry = _code_item(values, model.REGISTRY_CODE)
        if registry is not None:
            registration.BreedRegistryCodeSequence = [registry]
        root.BreedRegistrationSequence = [registration]
    if model.CATCH_ALL in values:
        for element in Dataset.from_json(json.loads(values[model.CATCH_ALL])):
            if element.keyword == SPS:
                for inner in element.value[0]:
                    step.add(inner)
            else:
                root.add(element)
    root.ScheduledProcedureStepSequence = [step]
    return root
