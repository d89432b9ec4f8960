//! Tenants, users, memberships, sessions, the job queue and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    LegalName,
    Siren,
    VatNumber,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailNormalized,
    Name,
    Language,
    PasswordHash,
    IsFirmAdmin,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    TenantId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    TenantId,
    State,
    RunAtMs,
    Attempts,
    MaxAttempts,
    LastError,
    LockedBy,
    LockedUntilMs,
    UniqueKey,
    CreatedAtMs,
    UpdatedAtMs,
    FinishedAtMs,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    ActorUserId,
    Action,
    Target,
    Details,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(pk_uuid(Tenants::Id))
                    .col(string_len_uniq(Tenants::Slug, 63))
                    .col(string(Tenants::LegalName))
                    .col(string_len(Tenants::Siren, 9))
                    .col(string_len_null(Tenants::VatNumber, 13))
                    .col(string_len(Tenants::Status, 16))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string(Users::Email))
                    .col(string_uniq(Users::EmailNormalized))
                    .col(string(Users::Name))
                    .col(string_len(Users::Language, 2))
                    .col(string_null(Users::PasswordHash))
                    .col(boolean(Users::IsFirmAdmin))
                    .col(boolean(Users::Active))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(uuid(Memberships::TenantId))
                    .col(uuid(Memberships::UserId))
                    .col(string_len(Memberships::Role, 16))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::TenantId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's tenants, for the tenant switcher (the primary key already serves tenant-first look-ups).
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_user")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    // The SHA-256 of the cookie's token: a leaked table does not yield usable sessions.
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(uuid(Sessions::UserId))
                    .col(string_len(Sessions::CsrfToken, 64))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_uuid(Jobs::Id))
                    .col(string_len(Jobs::Kind, 64))
                    .col(text(Jobs::Payload))
                    // Optional: firm-wide jobs (mail of a firm admin, maintenance) have no tenant.
                    .col(uuid_null(Jobs::TenantId))
                    .col(string_len(Jobs::State, 16))
                    .col(big_integer(Jobs::RunAtMs))
                    .col(integer(Jobs::Attempts))
                    .col(integer(Jobs::MaxAttempts))
                    .col(text_null(Jobs::LastError))
                    .col(string_len_null(Jobs::LockedBy, 128))
                    .col(big_integer_null(Jobs::LockedUntilMs))
                    .col(string_len_null(Jobs::UniqueKey, 255))
                    .col(big_integer(Jobs::CreatedAtMs))
                    .col(big_integer(Jobs::UpdatedAtMs))
                    .col(big_integer_null(Jobs::FinishedAtMs))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Jobs::Table, Jobs::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Several NULL keys are allowed on both backends: only jobs that ask for uniqueness get it.
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_unique_key")
                    .table(Jobs::Table)
                    .col(Jobs::UniqueKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The claim query: runnable jobs by due time, and expired leases.
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_claim")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::RunAtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_lease")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::LockedUntilMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_tenant")
                    .table(Jobs::Table)
                    .col(Jobs::TenantId)
                    .col(Jobs::State)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(pk_uuid(AuditLog::Id))
                    // Firm-level actions (creating a tenant, managing firm admins) have no tenant.
                    .col(uuid_null(AuditLog::TenantId))
                    .col(uuid_null(AuditLog::ActorUserId))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string(AuditLog::Target))
                    .col(text(AuditLog::Details))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditLog::Table, AuditLog::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditLog::Table, AuditLog::ActorUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_tenant_at")
                    .table(AuditLog::Table)
                    .col(AuditLog::TenantId)
                    .col(AuditLog::At)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            Jobs::Table.into_iden(),
            Sessions::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
