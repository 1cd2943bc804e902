"""The one home of DICOM names: the Modality Worklist information model and the view's columns.

The model is PS3.4 Table K.6-1 and the modules it draws on (PS3.3 C.4.10 Scheduled Procedure Step,
C.4.11 Requested Procedure, C.4.12 Imaging Service Request, C.3 Visit, C.2 Patient, with the
veterinary attributes of C.7.1.1): each attribute lives either in the dataset's root or in the
single item of the Scheduled Procedure Step Sequence.

One row of the worklist view is one Scheduled Procedure Step. A column named after an attribute of
the model holds that attribute; a few columns have a shape of their own (see :class:`Source`):
the step's start date and time in one date-time column, the three columns of a veterinary code,
and one catch-all column of DICOM JSON (PS3.18 F.2) for the attributes that have no column.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache

from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.tag import Tag

# -- keywords the plugin treats specially ---------------------------------------------------------
SPS_SEQUENCE = "ScheduledProcedureStepSequence"
#: Its tag, which the identifier's readers look up without converting elements.
SPS_TAG = 0x00400100
START_DATE = "ScheduledProcedureStepStartDate"
START_TIME = "ScheduledProcedureStepStartTime"
#: The view's date-time column of the step's start (also a real DT attribute, (0040,4005)).
START_DATETIME = "ScheduledProcedureStepStartDateTime"
STATUS = "ScheduledProcedureStepStatus"
STUDY_UID = "StudyInstanceUID"
MODALITY = "Modality"
STATION = "ScheduledStationAETitle"
CHARACTER_SET = "SpecificCharacterSet"
RESPONSIBLE_PERSON = "ResponsiblePerson"
RESPONSIBLE_PERSON_ROLE = "ResponsiblePersonRole"
#: The patient keys the replaced Impromed server answers (its conformance statement), in its order:
#: what a veterinary worklist entry shows of the animal and its owner.
PATIENT_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientWeight",
    "PatientSpeciesDescription",
    "PatientBreedDescription",
    RESPONSIBLE_PERSON,
)
#: A step whose status is unknown (NULL, empty, no column) is SCHEDULED: offered, matched and answered so.
UNKNOWN_STATUS = "SCHEDULED"
#: What an owner is to the animal (PS3.3 C.7.1.1.1.2), answered when the view says nothing else.
OWNER = "OWNER"
#: Keys that are never matched (PS3.4 K.6-1a, and (0008,0052), which some modalities send by mistake).
NEVER_MATCHED = frozenset({CHARACTER_SET, "TimezoneOffsetFromUTC", "QueryRetrieveLevel"})
#: The catch-all column: a DICOM JSON dataset of the attributes that have no column of their own;
#: the attributes of the step go inside its Scheduled Procedure Step Sequence item.
CATCH_ALL = "AdditionalAttributes"

# -- veterinary codes: three columns each (PS3.3 Table 8.8-1) --------------------------------------
SPECIES_SEQUENCE = "PatientSpeciesCodeSequence"
BREED_SEQUENCE = "PatientBreedCodeSequence"
REGISTRATION_SEQUENCE = "BreedRegistrationSequence"
REGISTRY_SEQUENCE = "BreedRegistryCodeSequence"
REGISTRATION_NUMBER = "BreedRegistrationNumber"
#: The attributes of a code item that the plugin fills, in tag order.
CODE_ITEM_KEYWORDS = ("CodeValue", "CodingSchemeDesignator", "CodeMeaning")
#: The attributes of a Breed Registration Sequence item, in tag order.
REGISTRATION_ITEM_KEYWORDS = (REGISTRATION_NUMBER, REGISTRY_SEQUENCE)


@dataclass(frozen=True)
class CodeColumns:
    """The three columns of one coded value; a code is taken from them only when all three have a value."""

    value: str
    scheme: str
    meaning: str

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.value, self.scheme, self.meaning))


SPECIES_CODE = CodeColumns(
    "PatientSpeciesCodeValue", "PatientSpeciesCodingSchemeDesignator", "PatientSpeciesCodeMeaning"
)
BREED_CODE = CodeColumns("PatientBreedCodeValue", "PatientBreedCodingSchemeDesignator", "PatientBreedCodeMeaning")
REGISTRY_CODE = CodeColumns("BreedRegistryCodeValue", "BreedRegistryCodingSchemeDesignator", "BreedRegistryCodeMeaning")
#: Root code sequences answered from code columns (species and breed also derived from the descriptions).
CODE_SEQUENCES = {SPECIES_SEQUENCE: SPECIES_CODE, BREED_SEQUENCE: BREED_CODE}

# -- the information model -------------------------------------------------------------------------
#: The attributes of the Scheduled Procedure Step Sequence item (PS3.4 K.6-1, PS3.3 C.4.10).
STEP_ATTRIBUTES: tuple[str, ...] = (
    STATION,
    START_DATE,
    START_TIME,
    "ScheduledProcedureStepEndDate",
    "ScheduledProcedureStepEndTime",
    MODALITY,
    "ScheduledPerformingPhysicianName",
    "ScheduledPerformingPhysicianIdentificationSequence",
    "ScheduledProcedureStepDescription",
    "ScheduledProtocolCodeSequence",
    "ScheduledProcedureStepID",
    "ScheduledStationName",
    "ScheduledStationNameCodeSequence",
    "ScheduledStationClassCodeSequence",
    "ScheduledProcedureStepLocation",
    "PreMedication",
    STATUS,
    "CommentsOnTheScheduledProcedureStep",
    "RequestedContrastAgent",
    "ScheduledSpecimenSequence",
    "AnatomicalOrientationType",
    "ScheduledProcedureStepModificationDateTime",
    START_DATETIME,
)
#: The attributes of the dataset's root: Requested Procedure, Imaging Service Request, Visit and
#: Patient, the veterinary ones included.
ROOT_ATTRIBUTES: tuple[str, ...] = (
    CHARACTER_SET,
    "TimezoneOffsetFromUTC",
    # Requested Procedure
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "RequestedProcedureCodeSequence",
    STUDY_UID,
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "ReferencedStudySequence",
    "RequestedProcedurePriority",
    "PatientTransportArrangements",
    "ReasonForTheRequestedProcedure",
    "ReasonForRequestedProcedureCodeSequence",
    "RequestedProcedureComments",
    "RequestedProcedureLocation",
    "ConfidentialityCode",
    "ReportingPriority",
    "NamesOfIntendedRecipientsOfResults",
    "IntendedRecipientsOfResultsIdentificationSequence",
    # Imaging Service Request
    "AccessionNumber",
    "IssuerOfAccessionNumberSequence",
    "RequestingPhysician",
    "RequestingPhysicianIdentificationSequence",
    "ReferringPhysicianName",
    "ReferringPhysicianIdentificationSequence",
    "RequestingService",
    "RequestingServiceCodeSequence",
    "IssueDateOfImagingServiceRequest",
    "IssueTimeOfImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
    "OrderEnteredBy",
    "OrderEntererLocation",
    "OrderCallbackPhoneNumber",
    "ReasonForTheImagingServiceRequest",
    "ImagingServiceRequestComments",
    # Visit
    "AdmissionID",
    "IssuerOfAdmissionIDSequence",
    "CurrentPatientLocation",
    "PatientInstitutionResidence",
    "VisitComments",
    "AdmittingDate",
    "AdmittingTime",
    "RouteOfAdmissions",
    "AdmittingDiagnosesDescription",
    "AdmittingDiagnosesCodeSequence",
    "ReferencedPatientSequence",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionCodeSequence",
    "ServiceEpisodeID",
    "ServiceEpisodeDescription",
    "IssuerOfServiceEpisodeIDSequence",
    # Patient: identification and demographics
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "OtherPatientIDsSequence",
    "PatientBirthName",
    "PatientMotherBirthName",
    "MedicalRecordLocator",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientSizeCodeSequence",
    "PatientWeight",
    "PatientAddress",
    "CountryOfResidence",
    "RegionOfResidence",
    "PatientTelephoneNumbers",
    "EthnicGroup",
    "Occupation",
    "PatientReligiousPreference",
    "PatientComments",
    # Patient: the animal
    "PatientSpeciesDescription",
    SPECIES_SEQUENCE,
    "PatientBreedDescription",
    BREED_SEQUENCE,
    REGISTRATION_SEQUENCE,
    RESPONSIBLE_PERSON,
    RESPONSIBLE_PERSON_ROLE,
    "ResponsibleOrganization",
    "PatientSexNeutered",
    "StrainDescription",
    "StrainNomenclature",
    "StrainCodeSequence",
    "StrainAdditionalInformation",
    "StrainStockSequence",
    "GeneticModificationsSequence",
    # Patient: medical
    "MedicalAlerts",
    "Allergies",
    "PregnancyStatus",
    "SmokingStatus",
    "AdditionalPatientHistory",
    "LastMenstrualDate",
    "SpecialNeeds",
    "PatientState",
    "PertinentDocumentsSequence",
    "ConfidentialityConstraintOnPatientDataDescription",
)


class Level(Enum):
    """Where an attribute lives in an answer."""

    ROOT = "root"
    STEP = "step"


_LEVELS = {**dict.fromkeys(ROOT_ATTRIBUTES, Level.ROOT), **dict.fromkeys(STEP_ATTRIBUTES, Level.STEP)}
#: Text VRs, whose values the view holds as text and SQL can compare.
TEXT_VRS = frozenset({"AE", "AS", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UI", "UR", "UT"})
#: VRs of whole numbers (written without a fraction).
INTEGER_VRS = frozenset({"IS", "US", "SS", "UL", "SL", "UV", "SV"})
#: VRs whose value is one number, or several.
NUMBER_VRS = INTEGER_VRS | {"DS", "FL", "FD"}
#: VRs whose leading spaces are significant (PS3.5 6.2): only trailing padding is removed.
KEEP_LEADING_SPACES = frozenset({"LT", "ST", "UT"})
#: Maximum characters per value (PN: per component group), PS3.5 Table 6.2-1.
MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "DS": 16, "IS": 12, "UI": 64, "LT": 10240, "ST": 1024}


def level_of(keyword: str) -> Level | None:
    """Root or step for an attribute of the model; None for anything else."""
    return _LEVELS.get(keyword)


@cache
def vr_of(keyword: str) -> str:
    """The attribute's VR from the DICOM dictionary (the first, for the few with a choice)."""
    if keyword == START_DATETIME:
        return "DT"
    return dictionary_VR(keyword).split(" or ")[0]


def dictionary_vr(tag: int | str, default: str | None = None) -> str | None:
    """The VR the DICOM dictionary gives a tag or keyword (the first, for the few with a choice);
    ``default`` for what the dictionary does not know (private or unknown attributes)."""
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return default


def element_vr(tag: int, vr: str | None) -> str:
    """The VR of an element as received: its own, or the dictionary's where it came without one
    (Implicit VR Little Endian leaves it None until conversion) or as UN; UN where neither says."""
    if vr in (None, "", "UN") and not Tag(tag).is_private:
        return dictionary_vr(tag, "UN") or "UN"
    return vr.split(" or ")[0] if vr else "UN"


@cache
def multi_valued(keyword: str) -> bool:
    """Whether the attribute may hold several values (VM 1-n and the like)."""
    return dictionary_VM(keyword) != "1"


def tag_of(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return tag


def keyword_of(tag: int) -> str:
    """The keyword of a public tag, '' for private and unknown ones."""
    return keyword_for_tag(tag) or ""


# -- the view's columns ----------------------------------------------------------------------------
class Source(Enum):
    """What a column of the view holds."""

    VALUE = "value"  # one attribute of the model, as its VR's value (text, number, date...)
    JSON_SEQUENCE = "json"  # a sequence of the model, as DICOM JSON (a list of items)
    START = "start"  # SPS Start Date and Time together, as a date-time
    CODE = "code"  # one of the three columns of a veterinary code
    CATCH_ALL = "catch-all"  # the other attributes, as one DICOM JSON dataset


#: Columns that must exist: without them no step can be told apart, scheduled or found.
REQUIRED_COLUMNS: tuple[str, ...] = ("ScheduledProcedureStepID", START_DATETIME, MODALITY, "PatientName", "PatientID")
CODE_COLUMNS: frozenset[str] = frozenset(
    (*SPECIES_CODE, *BREED_CODE, *REGISTRY_CODE, REGISTRATION_NUMBER),
)


def source_of(keyword: str) -> Source | None:
    """What a column named ``keyword`` holds, or None when it is nothing the plugin reads."""
    if keyword == START_DATETIME:
        return Source.START
    if keyword == CATCH_ALL:
        return Source.CATCH_ALL
    if keyword in CODE_COLUMNS:
        return Source.CODE
    if level_of(keyword) is None or keyword in (START_DATE, START_TIME, CHARACTER_SET):
        return None
    return Source.JSON_SEQUENCE if vr_of(keyword) == "SQ" else Source.VALUE
