-- Reference worklist table for MariaDB (10.10 or later). One row per Scheduled Procedure Step.
-- utf8mb4 keeps names in any language whatever the server's default character set. Text compares
-- exactly (utf8mb4_bin), as DICOM matching wants, except the five person-name (PN) columns: their
-- collation ignores case but not accents (Müller is not Muller), so `PatientName LIKE 'SMITH%'`
-- is case-insensitive and stays on the index without UPPER(). MariaDB before 10.10 lacks the
-- uca1400 collations: use utf8mb4_unicode_520_ci there (it also ignores accents).
-- Columns are named after DICOM keywords (sql/README.md, plugin/vetmwl/model.py). Sequences with
-- a column of their own hold DICOM JSON (PS3.18 F.2: a list of items); AdditionalAttributes holds
-- one DICOM JSON dataset of every other attribute of the item (the step's inside its
-- ScheduledProcedureStepSequence item).
CREATE TABLE IF NOT EXISTS worklist (
    ScheduledProcedureStepID             VARCHAR(16)  NOT NULL UNIQUE,
    ScheduledProcedureStepStartDateTime  DATETIME     NOT NULL,
    Modality                             VARCHAR(16)  NOT NULL,
    ScheduledStationAETitle              VARCHAR(16),
    ScheduledStationName                 VARCHAR(16),
    ScheduledProcedureStepLocation       VARCHAR(16),
    ScheduledProcedureStepDescription    VARCHAR(64),
    ScheduledPerformingPhysicianName     VARCHAR(324) COLLATE utf8mb4_uca1400_as_ci,
    ScheduledProcedureStepStatus         VARCHAR(16),
    PreMedication                        VARCHAR(64),
    RequestedContrastAgent               VARCHAR(64),
    CommentsOnTheScheduledProcedureStep  LONGTEXT,
    ScheduledProtocolCodeSequence        LONGTEXT,
    RequestedProcedureID                 VARCHAR(16),
    RequestedProcedureDescription        VARCHAR(64),
    RequestedProcedurePriority           VARCHAR(16),
    RequestedProcedureCodeSequence       LONGTEXT,
    AccessionNumber                      VARCHAR(16),
    StudyInstanceUID                     VARCHAR(64),
    StudyDescription                     VARCHAR(64),
    ReferencedStudySequence              LONGTEXT,
    ReferringPhysicianName               VARCHAR(324) COLLATE utf8mb4_uca1400_as_ci,
    RequestingPhysician                  VARCHAR(324) COLLATE utf8mb4_uca1400_as_ci,
    AdmissionID                          VARCHAR(64),
    CurrentPatientLocation               VARCHAR(64),
    ReferencedPatientSequence            LONGTEXT,
    PatientName                          VARCHAR(324) COLLATE utf8mb4_uca1400_as_ci NOT NULL,
    PatientID                            VARCHAR(64)  NOT NULL,
    IssuerOfPatientID                    VARCHAR(64),
    PatientBirthDate                     DATE,
    PatientSex                           VARCHAR(16),
    PatientSize                          DECIMAL(8,3),
    PatientWeight                        DECIMAL(8,3),
    PatientSpeciesDescription            VARCHAR(64),
    PatientSpeciesCodeValue              VARCHAR(16),
    PatientSpeciesCodingSchemeDesignator VARCHAR(16),
    PatientSpeciesCodeMeaning            VARCHAR(64),
    PatientBreedDescription              VARCHAR(64),
    PatientBreedCodeValue                VARCHAR(16),
    PatientBreedCodingSchemeDesignator   VARCHAR(16),
    PatientBreedCodeMeaning              VARCHAR(64),
    BreedRegistrationNumber              VARCHAR(64),
    BreedRegistryCodeValue               VARCHAR(16),
    BreedRegistryCodingSchemeDesignator  VARCHAR(16),
    BreedRegistryCodeMeaning             VARCHAR(64),
    PatientSexNeutered                   VARCHAR(16),
    ResponsiblePerson                    VARCHAR(324) COLLATE utf8mb4_uca1400_as_ci,
    ResponsiblePersonRole                VARCHAR(16),
    ResponsibleOrganization              VARCHAR(64),
    PatientComments                      LONGTEXT,
    MedicalAlerts                        VARCHAR(1024),
    Allergies                            VARCHAR(1024),
    SpecialNeeds                         VARCHAR(64),
    PatientState                         VARCHAR(64),
    AdditionalAttributes                 LONGTEXT
) ENGINE=InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX IF NOT EXISTS worklist_start ON worklist (ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_modality_start ON worklist (Modality, ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_station_start ON worklist (ScheduledStationAETitle, ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_patient_id ON worklist (PatientID);
CREATE INDEX IF NOT EXISTS worklist_accession ON worklist (AccessionNumber);
CREATE INDEX IF NOT EXISTS worklist_patient_name ON worklist (PatientName);
