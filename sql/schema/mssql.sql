-- Reference worklist table for Microsoft SQL Server. One row per Scheduled Procedure Step.
-- NVARCHAR keeps names in any language. The plugin relies on a case-insensitive collation (the
-- default) for case-insensitive Patient's Name matching, which keeps LIKE 'SMITH%' on the index.
-- Run it once on an empty database (it does not check for an existing table).
CREATE TABLE dbo.worklist (
    ScheduledProcedureStepID             NVARCHAR(16)  NOT NULL UNIQUE,
    ScheduledProcedureStepStartDateTime  DATETIME2(0)  NOT NULL,
    Modality                             NVARCHAR(16)  NOT NULL,
    ScheduledStationAETitle              NVARCHAR(16),
    ScheduledStationName                 NVARCHAR(16),
    ScheduledProcedureStepLocation       NVARCHAR(16),
    ScheduledProcedureStepDescription    NVARCHAR(64),
    ScheduledPerformingPhysicianName     NVARCHAR(324),
    ScheduledProcedureStepStatus         NVARCHAR(16),
    RequestedProcedureID                 NVARCHAR(16),
    RequestedProcedureDescription        NVARCHAR(64),
    RequestedProcedurePriority           NVARCHAR(16),
    AccessionNumber                      NVARCHAR(16),
    StudyInstanceUID                     VARCHAR(64),
    StudyDescription                     NVARCHAR(64),
    ReferringPhysicianName               NVARCHAR(324),
    PatientName                          NVARCHAR(324) NOT NULL,
    PatientID                            NVARCHAR(64)  NOT NULL,
    PatientBirthDate                     DATE,
    PatientSex                           NVARCHAR(16),
    PatientWeight                        DECIMAL(8,3),
    PatientSpeciesDescription            NVARCHAR(64),
    PatientSpeciesCodeValue              NVARCHAR(16),
    PatientSpeciesCodingSchemeDesignator NVARCHAR(16),
    PatientSpeciesCodeMeaning            NVARCHAR(64),
    PatientBreedDescription              NVARCHAR(64),
    PatientBreedCodeValue                NVARCHAR(16),
    PatientBreedCodingSchemeDesignator   NVARCHAR(16),
    PatientBreedCodeMeaning              NVARCHAR(64),
    BreedRegistrationNumber              NVARCHAR(64),
    BreedRegistryCodeValue               NVARCHAR(16),
    BreedRegistryCodingSchemeDesignator  NVARCHAR(16),
    BreedRegistryCodeMeaning             NVARCHAR(64),
    PatientSexNeutered                   NVARCHAR(16),
    ResponsiblePerson                    NVARCHAR(324),
    ResponsibleOrganization              NVARCHAR(64),
    PatientComments                      NVARCHAR(MAX)
);
CREATE INDEX worklist_start ON dbo.worklist (ScheduledProcedureStepStartDateTime);
CREATE INDEX worklist_modality_start ON dbo.worklist (Modality, ScheduledProcedureStepStartDateTime);
CREATE INDEX worklist_station_start ON dbo.worklist (ScheduledStationAETitle, ScheduledProcedureStepStartDateTime);
CREATE INDEX worklist_patient_id ON dbo.worklist (PatientID);
CREATE INDEX worklist_accession ON dbo.worklist (AccessionNumber);
CREATE INDEX worklist_patient_name ON dbo.worklist (PatientName);
