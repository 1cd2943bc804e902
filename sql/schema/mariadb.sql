-- Reference worklist table for MariaDB (10.10 or later). One row per Scheduled Procedure Step.
-- utf8mb4 keeps names in any language whatever the server's default character set. Text compares
-- exactly (utf8mb4_bin), as DICOM matching wants, except the four person-name (PN) columns: their
-- collation ignores case but not accents (Müller is not Muller), so `PatientName LIKE 'SMITH%'`
-- is case-insensitive and stays on the index without UPPER(). MariaDB before 10.10 lacks the
-- uca1400 collations: use utf8mb4_unicode_520_ci there (it also ignores accents).
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
    RequestedProcedureID                 VARCHAR(16),
    RequestedProcedureDescription        VARCHAR(64),
    RequestedProcedurePriority           VARCHAR(16),
    AccessionNumber                      VARCHAR(16),
    StudyInstanceUID                     VARCHAR(64),
    StudyDescription                     VARCHAR(64),
    ReferringPhysicianName               VARCHAR(324) COLLATE utf8mb4_uca1400_as_ci,
    PatientName                          VARCHAR(324) COLLATE utf8mb4_uca1400_as_ci NOT NULL,
    PatientID                            VARCHAR(64)  NOT NULL,
    PatientBirthDate                     DATE,
    PatientSex                           VARCHAR(16),
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
    ResponsibleOrganization              VARCHAR(64),
    PatientComments                      TEXT
) ENGINE=InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX IF NOT EXISTS worklist_start ON worklist (ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_modality_start ON worklist (Modality, ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_station_start ON worklist (ScheduledStationAETitle, ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_patient_id ON worklist (PatientID);
CREATE INDEX IF NOT EXISTS worklist_accession ON worklist (AccessionNumber);
CREATE INDEX IF NOT EXISTS worklist_patient_name ON worklist (PatientName);
