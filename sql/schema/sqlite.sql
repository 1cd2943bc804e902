-- Reference worklist table for SQLite (the demo database). One row per Scheduled Procedure Step.
-- Date-times are stored as ISO text 'YYYY-MM-DD HH:MM:SS' (clinic-local time), dates as 'YYYY-MM-DD'.
CREATE TABLE IF NOT EXISTS worklist (
    ScheduledProcedureStepID             VARCHAR(16)  NOT NULL UNIQUE,
    ScheduledProcedureStepStartDateTime  TIMESTAMP    NOT NULL,
    Modality                             VARCHAR(16)  NOT NULL,
    ScheduledStationAETitle              VARCHAR(16),
    ScheduledStationName                 VARCHAR(16),
    ScheduledProcedureStepLocation       VARCHAR(16),
    ScheduledProcedureStepDescription    VARCHAR(64),
    ScheduledPerformingPhysicianName     VARCHAR(324),
    ScheduledProcedureStepStatus         VARCHAR(16),
    RequestedProcedureID                 VARCHAR(16),
    RequestedProcedureDescription        VARCHAR(64),
    RequestedProcedurePriority           VARCHAR(16),
    AccessionNumber                      VARCHAR(16),
    StudyInstanceUID                     VARCHAR(64),
    StudyDescription                     VARCHAR(64),
    ReferringPhysicianName               VARCHAR(324),
    PatientName                          VARCHAR(324) NOT NULL,
    PatientID                            VARCHAR(64)  NOT NULL,
    PatientBirthDate                     DATE,
    PatientSex                           VARCHAR(16),
    PatientWeight                        NUMERIC(8,3),
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
    ResponsiblePerson                    VARCHAR(324),
    ResponsibleOrganization              VARCHAR(64),
    PatientComments                      VARCHAR(10240)
);
CREATE INDEX IF NOT EXISTS worklist_start ON worklist (ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_modality_start ON worklist (Modality, ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_station_start ON worklist (ScheduledStationAETitle, ScheduledProcedureStepStartDateTime);
CREATE INDEX IF NOT EXISTS worklist_patient_id ON worklist (PatientID);
CREATE INDEX IF NOT EXISTS worklist_accession ON worklist (AccessionNumber);
CREATE INDEX IF NOT EXISTS worklist_patient_name ON worklist (PatientName COLLATE NOCASE);
