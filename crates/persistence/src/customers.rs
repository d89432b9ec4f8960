//! The customers (buyers) of a tenant: who its invoices go to, how to reach them on the e-invoicing network, and
//! what the last network check said. Every function takes the tenant's [`TenantScope`].
//!
//! Creating, changing and deleting a customer write its audit entry in the same transaction: the change is kept if
//! and only if its entry is.

use crate::audit::{self, AuditEntry};
use crate::entities::{customers, invoices};
use crate::scope::TenantScope;
use crate::text::blank_to_none;
use chrono::{DateTime, Utc};
use portal_domain::Language;
use portal_domain::identifiers::{ElectronicAddress, Email, Siren, Siret, VatNumber};
use portal_domain::ids::CustomerId;
use portal_domain::invoice::{Address, BuyerDraft};
use sea_orm::sea_query::{Expr, Func, Query};

pub(crate) mod search;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// What a customer is made of, every part already checked by the domain's rules (the web layer builds it from a
/// form; nothing here parses user text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerInput {
    /// Trimmed, not empty.
    pub legal_name: String,
    pub siren: Siren,
    /// Belongs to `siren`.
    pub siret: Option<Siret>,
    /// Belongs to `siren`.
    pub vat_number: Option<VatNumber>,
    pub electronic_address: ElectronicAddress,
    /// At least one.
    pub contact_emails: Vec<Email>,
    /// `country_code` is an ISO 3166-1 alpha-2 code.
    pub address: Address,
    pub language: Language,
}

/// A customer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub legal_name: String,
    pub siren: String,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    /// `scheme:value`, e.g. `0225:732829320`.
    pub electronic_address: String,
    pub contact_emails: Vec<String>,
    pub address: Address,
    pub language: Language,
    /// When the network was last asked whether this customer can receive, and what it answered (the web layer
    /// decides the shape; it is kept as given).
    pub network_check: Option<(DateTime<Utc>, serde_json::Value)>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// The invoice editor's buyer, filled from this customer.
    pub fn buyer_draft(&self) -> BuyerDraft {
        BuyerDraft {
            legal_name: self.legal_name.clone(),
            siren: self.siren.clone(),
            siret: self.siret.clone().unwrap_or_default(),
            vat_number: self.vat_number.clone().unwrap_or_default(),
            electronic_address: self.electronic_address.clone(),
            contact_emails: self.contact_emails.clone(),
            address: self.address.clone(),
            language: self.language,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("no such customer")]
    NotFound,
    /// Invoices keep a reference to their customer, so one that has invoices stays.
    #[error("the customer is referenced by {invoices} invoice(s)")]
    InUse { invoices: u64 },
    #[error("stored customer data is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

pub(crate) fn to_customer(row: customers::Model) -> Result<Customer, CustomerError> {
    let contact_emails: Vec<String> = serde_json::from_str(&row.contact_emails)
        .map_err(|error| CustomerError::Corrupt(error.to_string()))?;
    let network_check = match (row.peppol_checked_at, row.peppol_summary) {
        (Some(at), Some(summary)) => Some((
            at,
            serde_json::from_str(&summary)
                .map_err(|error| CustomerError::Corrupt(error.to_string()))?,
        )),
        _ => None,
    };
    Ok(Customer {
        id: CustomerId::from_uuid(row.id),
        legal_name: row.legal_name,
        siren: row.siren,
        siret: row.siret,
        vat_number: row.vat_number,
        electronic_address: row.electronic_address,
        contact_emails,
        address: Address {
            street: row.address_street.unwrap_or_default(),
            additional: row.address_additional.unwrap_or_default(),
            postcode: row.address_postcode.unwrap_or_default(),
            city: row.address_city.unwrap_or_default(),
            country_code: row.address_country,
        },
        language: Language::parse(&row.language).unwrap_or_default(),
        network_check,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn content_columns(active: &mut customers::ActiveModel, input: &CustomerInput) {
    let emails: Vec<&str> = input.contact_emails.iter().map(Email::as_str).collect();
    active.legal_name = Set(input.legal_name.trim().to_owned());
    active.siren = Set(input.siren.as_string());
    active.siret = Set(input.siret.map(|siret| siret.as_string()));
    active.vat_number = Set(input.vat_number.map(|vat| vat.as_string()));
    active.electronic_address = Set(input.electronic_address.to_string());
    active.contact_emails = Set(serde_json::Value::from(emails).to_string());
    active.address_street = Set(blank_to_none(&input.address.street));
    active.address_additional = Set(blank_to_none(&input.address.additional));
    active.address_postcode = Set(blank_to_none(&input.address.postcode));
    active.address_city = Set(blank_to_none(&input.address.city));
    active.address_country =
        Set(blank_to_none(&input.address.country_code).unwrap_or_else(|| "FR".to_owned()));
    active.language = Set(input.language.code().to_owned());
}

#[derive(Debug, Clone)]
pub struct CustomerRepository {
    db: DatabaseConnection,
}

impl CustomerRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn scoped(scope: &TenantScope) -> sea_orm::Select<customers::Entity> {
        customers::Entity::find()
            .filter(customers::Column::TenantId.eq(scope.tenant_id().as_uuid()))
    }

    /// Creates a customer and writes the entry `audit` makes of it (the demo records none), in one transaction.
    pub async fn create(
        &self,
        scope: &TenantScope,
        input: &CustomerInput,
        audit: impl FnOnce(&Customer) -> Option<AuditEntry>,
    ) -> Result<Customer, CustomerError> {
        let now = Utc::now();
        let mut active = customers::ActiveModel {
            id: Set(CustomerId::new().as_uuid()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            peppol_checked_at: Set(None),
            peppol_summary: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        content_columns(&mut active, input);
        let txn = crate::db::begin_write(&self.db).await?;
        let row = active.insert(&txn).await?;
        search::index(&txn, vec![search::entry_of(&row)]).await?;
        let customer = to_customer(row)?;
        if let Some(entry) = audit(&customer) {
            audit::record_for_tenant(&txn, scope, entry).await?;
        }
        txn.commit().await?;
        Ok(customer)
    }

    /// Replaces what the customer is made of, and writes the entry `audit` makes of the result in the same
    /// transaction. A new electronic address forgets the last network check, which was about the old one.
    pub async fn update(
        &self,
        scope: &TenantScope,
        id: CustomerId,
        input: &CustomerInput,
        audit: impl FnOnce(&Customer) -> AuditEntry,
    ) -> Result<Customer, CustomerError> {
        // Read inside the transaction that writes (SQLite's write lock taken at its start: `db::begin_write`),
        // so the address comparison is with the row this change replaces.
        let txn = crate::db::begin_write(&self.db).await?;
        let row = Self::scoped(scope)
            .filter(customers::Column::Id.eq(id.as_uuid()))
            .one(&txn)
            .await?
            .ok_or(CustomerError::NotFound)?;
        let address_changed = row.electronic_address != input.electronic_address.to_string();
        let mut active: customers::ActiveModel = row.into();
        content_columns(&mut active, input);
        if address_changed {
            active.peppol_checked_at = Set(None);
            active.peppol_summary = Set(None);
        }
        active.updated_at = Set(Utc::now());
        let row = active.update(&txn).await?;
        search::index(&txn, vec![search::entry_of(&row)]).await?;
        let customer = to_customer(row)?;
        audit::record_for_tenant(&txn, scope, audit(&customer)).await?;
        txn.commit().await?;
        Ok(customer)
    }

    pub async fn get(
        &self,
        scope: &TenantScope,
        id: CustomerId,
    ) -> Result<Option<Customer>, CustomerError> {
        Self::scoped(scope)
            .filter(customers::Column::Id.eq(id.as_uuid()))
            .one(&self.db)
            .await?
            .map(to_customer)
            .transpose()
    }

    /// Deletes a customer that no invoice refers to, with its audit entry (written only when it was deleted). The
    /// check and the delete are one statement, so an invoice created meanwhile cannot lose its customer.
    pub async fn delete(
        &self,
        scope: &TenantScope,
        id: CustomerId,
        audit: AuditEntry,
    ) -> Result<(), CustomerError> {
        let tenant = scope.tenant_id().as_uuid();
        let referencing = Query::select()
            .column(invoices::Column::CustomerId)
            .from(invoices::Entity)
            .and_where(invoices::Column::TenantId.eq(tenant))
            .and_where(invoices::Column::CustomerId.eq(id.as_uuid()))
            .to_owned();
        let txn = crate::db::begin_write(&self.db).await?;
        let deleted = customers::Entity::delete_many()
            .filter(customers::Column::TenantId.eq(tenant))
            .filter(customers::Column::Id.eq(id.as_uuid()))
            .filter(customers::Column::Id.not_in_subquery(referencing))
            .exec(&txn)
            .await?;
        if deleted.rows_affected > 0 {
            audit::record_for_tenant(&txn, scope, audit).await?;
            txn.commit().await?;
            return Ok(());
        }
        txn.rollback().await?;
        if self.get(scope, id).await?.is_none() {
            return Err(CustomerError::NotFound);
        }
        Err(CustomerError::InUse {
            invoices: self.invoice_count(scope, id).await?,
        })
    }

    /// How many invoices of the tenant name this customer.
    pub async fn invoice_count(&self, scope: &TenantScope, id: CustomerId) -> Result<u64, DbErr> {
        invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::CustomerId.eq(id.as_uuid()))
            .count(&self.db)
            .await
    }

    /// Customers by name (case-insensitive), at most `limit`. `search` matches part of the legal name (any case,
    /// accents ignored),
    /// or of the SIREN, SIRET or VAT number (spaces ignored, any case).
    pub async fn list(
        &self,
        scope: &TenantScope,
        search: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Customer>, CustomerError> {
        let mut query = Self::scoped(scope);
        // Through the search index (`customers::search`): the matches, not the company's customers.
        if let Some(matches) =
            search.and_then(|typed| search::condition(scope, typed, self.db.get_database_backend()))
        {
            query = query.filter(matches);
        }
        query
            .order_by(
                Expr::expr(Func::lower(Expr::col(customers::Column::LegalName))),
                Order::Asc,
            )
            .order_by(customers::Column::Id, Order::Asc)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_customer)
            .collect()
    }

    /// Who among the company's customers has one of `sirens` or one of `addresses` (electronic addresses):
    /// `(SIREN, SIRET, electronic address)` of each (an import leaves out the rows that are customers already).
    pub async fn known_identities(
        &self,
        scope: &TenantScope,
        sirens: &[String],
        addresses: &[String],
    ) -> Result<Vec<(String, Option<String>, String)>, DbErr> {
        if sirens.is_empty() && addresses.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        // In chunks, so that a large file stays under the databases' limits on bound values.
        for (sirens, addresses) in sirens
            .chunks(400)
            .map(|chunk| (chunk, &[][..]))
            .chain(addresses.chunks(400).map(|chunk| (&[][..], chunk)))
        {
            let rows: Vec<(String, Option<String>, String)> = Self::scoped(scope)
                .select_only()
                .column(customers::Column::Siren)
                .column(customers::Column::Siret)
                .column(customers::Column::ElectronicAddress)
                .filter(
                    sea_orm::Condition::any()
                        .add(customers::Column::Siren.is_in(sirens.iter().cloned()))
                        .add(customers::Column::ElectronicAddress.is_in(addresses.iter().cloned())),
                )
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Keeps what the network said about the customer's electronic address, and when.
    pub async fn set_network_check(
        &self,
        scope: &TenantScope,
        id: CustomerId,
        summary: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<(), CustomerError> {
        let updated = customers::Entity::update_many()
            .col_expr(customers::Column::PeppolCheckedAt, Expr::value(at))
            .col_expr(
                customers::Column::PeppolSummary,
                Expr::value(summary.to_string()),
            )
            .filter(customers::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(customers::Column::Id.eq(id.as_uuid()))
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 0 {
            return Err(CustomerError::NotFound);
        }
        Ok(())
    }
}
