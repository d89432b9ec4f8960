use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub buyer_name: String,
    /// `invoice` or `credit_note`.
    pub document_type: String,
    pub number: Option<String>,
    pub issue_year: Option<i32>,
    pub corrects: Option<String>,
    pub issue_date: Option<Date>,
    pub due_date: Option<Date>,
    pub delivery_date: Option<Date>,
    /// The day an invoice paid when issued was paid.
    pub paid_at_issue: Option<Date>,
    pub currency: String,
    /// JSON `BuyerDraft`.
    pub buyer: String,
    /// JSON `Vec<LineDraft>`.
    pub lines: String,
    pub purchase_order: Option<String>,
    pub contract: Option<String>,
    pub buyer_reference: Option<String>,
    /// JSON array of strings.
    pub notes: String,
    pub total_excl_cents: i64,
    pub total_vat_cents: i64,
    pub total_incl_cents: i64,
    pub submission_state: String,
    pub submission_error: Option<String>,
    pub submission_attempts: i32,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub billit_order_id: Option<i64>,
    pub submitted_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub headline_code: Option<i32>,
    pub is_final: bool,
    pub needs_action: bool,
    /// JSON array of `ActionReason`.
    pub action_reasons: String,
    pub open_request_code: Option<i32>,
    pub open_request_since: Option<DateTimeUtc>,
    pub delivery: String,
    pub tax_reporting: String,
    pub payment: String,
    pub amount_paid_cents: i64,
    pub unclassified: i32,
    pub events_count: i32,
    pub last_event_at: Option<DateTimeUtc>,
    /// When the current headline status first arrived (the firm's inbox orders by it).
    pub headline_since: Option<DateTimeUtc>,
    /// JSON `InvoiceFacts` as Billit's order last said.
    pub billit_facts: Option<String>,
    pub last_polled_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The invoice (same tenant) this document settles or replaces.
    pub related_invoice_id: Option<Uuid>,
    /// `credit_note_for` or `corrects`.
    pub relation: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
