//! The invoice list's search: what people type finds the invoice (any case, no accents, references, amounts as
//! written in French or English), only in the company's own invoices, page after page; the migrations index the
//! invoices stored before them; and the query reads the search index, not the company's invoices.

use crate::fresh;
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_domain::search;
use portal_persistence::audit::AuditEntry;
use portal_persistence::entities::invoice_search;
use portal_persistence::invoices::{
    Cursor, InvoiceContent, InvoiceFilter, InvoiceRepository, InvoiceSort, SubmissionState,
    TotalsCents,
};
use portal_persistence::seed::{SeedInvoice, insert_invoices};
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::testing::TestDatabase;
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantRole, TenantScope};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, TransactionTrait,
};

async fn companies(test: &TestDatabase) -> (TenantScope, TenantScope) {
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let mut scopes = Vec::new();
    for (slug, siren) in [("acme", "732829320"), ("globex", "443061841")] {
        let tenant = tenants
            .create(
                NewTenant {
                    slug: slug.into(),
                    legal_name: slug.to_uppercase(),
                    siren: siren.into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let user = users
            .create(&format!("admin@{slug}.fr"), "Admin", "fr")
            .await
            .unwrap();
        tenants
            .add_member(tenant.id, user.id, TenantRole::Admin)
            .await
            .unwrap();
        let (_, scope) = tenants
            .scope_for_member(user.id, slug)
            .await
            .unwrap()
            .unwrap();
        scopes.push(scope);
    }
    let globex = scopes.pop().unwrap();
    (scopes.pop().unwrap(), globex)
}

fn content(number: &str, buyer: &str, reference: &str, incl: i64) -> InvoiceContent {
    InvoiceContent {
        customer_id: None,
        draft: InvoiceDraft {
            number: number.to_owned(),
            issue_date: chrono::NaiveDate::from_ymd_opt(2026, 9, 1),
            buyer: BuyerDraft {
                legal_name: buyer.into(),
                ..Default::default()
            },
            buyer_reference: reference.to_owned(),
            ..Default::default()
        },
        totals: TotalsCents {
            excl: incl * 5 / 6,
            vat: incl - incl * 5 / 6,
            incl,
        },
    }
}

async fn found(repo: &InvoiceRepository, scope: &TenantScope, typed: &str) -> Vec<String> {
    let filter = InvoiceFilter {
        search: Some(typed.to_owned()),
        ..Default::default()
    };
    let mut numbers: Vec<String> = repo
        .list(scope, &filter, None, 100)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|row| row.number)
        .collect();
    numbers.sort();
    numbers
}

#[tokio::test]
async fn what_people_type_finds_the_invoice_in_their_company_only() {
    let test = fresh().await;
    let (acme, globex) = companies(&test).await;
    let repo = InvoiceRepository::new(test.db.clone());
    let mut po = content("F2026-00001", "Société Générale", "", 123_450);
    po.draft.purchase_order = "BC-7781".into();
    repo.create_draft(&acme, &po, None).await.unwrap();
    repo.create_draft(
        &acme,
        &content("F2026-00002", "Durand SARL", "CHANTIER-NORD", 9_900),
        None,
    )
    .await
    .unwrap();
    let heart = repo
        .create_draft(
            &acme,
            &content("F2026-00003", "Boulangerie Cœur", "", 4_200),
            None,
        )
        .await
        .unwrap();
    // Another company's invoice that matches every search below.
    repo.create_draft(
        &globex,
        &content("F2026-00009", "Société Générale", "CHANTIER-NORD", 123_450),
        None,
    )
    .await
    .unwrap();

    let one = vec!["F2026-00001".to_owned()];
    for typed in [
        "societe",
        "SOCIÉTÉ",
        "Société Générale",
        "generale",
        // Amounts as written in French and in English, with or without the thousands separator or a sign.
        "1 234,50",
        "1\u{202f}234,50 €",
        "1234.50",
        "1234,50",
        "1,234.50",
        "1234,5",
        // The purchase order.
        "bc-7781",
    ] {
        assert_eq!(found(&repo, &acme, typed).await, one, "{typed}");
    }
    assert_eq!(found(&repo, &acme, "00002").await, vec!["F2026-00002"]);
    assert_eq!(
        found(&repo, &acme, "Chantier-Nord").await,
        vec!["F2026-00002"]
    );
    assert_eq!(found(&repo, &acme, "coeur").await, vec!["F2026-00003"]);
    assert_eq!(found(&repo, &acme, "f2026-0000").await.len(), 3);
    assert!(found(&repo, &acme, "nobody").await.is_empty());
    // LIKE's and FTS5's special characters are searched as themselves.
    for typed in ["%", "_", "\"", "%%%", "a\"b", "*", "NEAR(a b)"] {
        assert!(found(&repo, &acme, typed).await.is_empty(), "{typed}");
    }
    // One or two characters: the start of the number.
    assert_eq!(found(&repo, &acme, "F2").await.len(), 3);
    assert!(found(&repo, &acme, "00").await.is_empty());
    // The other company finds its own invoice, never Acme's.
    assert_eq!(found(&repo, &globex, "societe").await, vec!["F2026-00009"]);
    assert_eq!(found(&repo, &globex, "f2").await, vec!["F2026-00009"]);

    // An edited draft is found by what it says now.
    repo.update_draft(
        &acme,
        heart,
        &content("F2026-00003", "Pâtisserie Dupont", "", 4_200),
    )
    .await
    .unwrap();
    assert!(found(&repo, &acme, "coeur").await.is_empty());
    assert_eq!(found(&repo, &acme, "patisserie").await, vec!["F2026-00003"]);
    // A deleted draft is no longer found, and the index stays whole for the others.
    assert!(
        repo.delete(
            &acme,
            heart,
            AuditEntry::new("invoice.deleted", heart.to_string())
        )
        .await
        .unwrap()
    );
    assert!(found(&repo, &acme, "patisserie").await.is_empty());
    assert_eq!(found(&repo, &acme, "f2026").await.len(), 2);
    integrity(&test).await;
}

/// The migration called `name`.
fn migration(name: &str) -> Box<dyn portal_migrations::MigrationTrait> {
    use portal_migrations::MigratorTrait;
    portal_migrations::Migrator::migrations()
        .into_iter()
        .find(|migration| migration.name() == name)
        .unwrap()
}

/// SQLite's check of the FTS5 index against its content (a bad delete or update leaves it inconsistent).
async fn integrity(test: &TestDatabase) {
    if test.db.get_database_backend() == DbBackend::Sqlite {
        test.db
            .execute_unprepared(
                "INSERT INTO invoice_search_fts (invoice_search_fts, rank) VALUES ('integrity-check', 1)",
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn keyset_pages_of_a_search_visit_every_match_once_in_every_order() {
    let test = fresh().await;
    let (acme, globex) = companies(&test).await;
    let repo = InvoiceRepository::new(test.db.clone());
    let mut matching: Vec<InvoiceId> = Vec::new();
    for n in 0..45_i64 {
        let buyer = if n % 3 == 0 {
            "Durand"
        } else {
            "Société Générale"
        };
        // Few distinct totals, so amounts tie across page boundaries.
        let id = repo
            .create_draft(
                &acme,
                &content(&format!("F2026-{n:05}"), buyer, "", (n % 4) * 1_000 + 500),
                None,
            )
            .await
            .unwrap();
        if n % 3 != 0 {
            matching.push(id);
        }
        repo.create_draft(
            &globex,
            &content(&format!("G2026-{n:05}"), "Société Générale", "", 500),
            None,
        )
        .await
        .unwrap();
    }
    matching.sort_by_key(|id| id.to_string());
    for sort in [
        InvoiceSort::Recent,
        InvoiceSort::Oldest,
        InvoiceSort::TotalDesc,
        InvoiceSort::TotalAsc,
    ] {
        let filter = InvoiceFilter {
            search: Some("SOCIETE".into()),
            sort,
            ..Default::default()
        };
        let mut seen: Vec<InvoiceId> = Vec::new();
        let mut after: Option<Cursor> = None;
        let mut pages = 0;
        loop {
            let page = repo.list(&acme, &filter, after, 7).await.unwrap();
            assert!(page.rows.len() <= 7);
            seen.extend(page.rows.iter().map(|row| row.id));
            pages += 1;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 5, "{sort:?}");
        let mut sorted = seen.clone();
        sorted.sort_by_key(|id| id.to_string());
        assert_eq!(
            sorted, matching,
            "{sort:?}: every match once, none of Globex's"
        );
    }
}

#[tokio::test]
async fn the_migration_indexes_the_invoices_stored_before_it() {
    use portal_migrations::SchemaManager;
    let test = fresh().await;
    let (acme, globex) = companies(&test).await;
    let repo = InvoiceRepository::new(test.db.clone());
    repo.create_draft(
        &acme,
        &content("F2026-00001", "Société Générale", "", 123_450),
        None,
    )
    .await
    .unwrap();
    repo.create_draft(
        &globex,
        &content("F2026-00001", "Société Générale", "", 123_450),
        None,
    )
    .await
    .unwrap();
    // As before the migration: no search table; then the migration runs again over the stored invoices.
    let migration = migration("m20261202_000022_search");
    // In one transaction, hence on one connection: SQLite checks a CREATE INDEX's name against the schema its
    // connection last read, so a pooled connection that did not see the drop would refuse it.
    let txn = test.db.begin().await.unwrap();
    let manager = SchemaManager::new(&txn);
    migration.down(&manager).await.unwrap();
    migration.up(&manager).await.unwrap();
    txn.commit().await.unwrap();
    for typed in ["societe", "1 234,50", "F2"] {
        assert_eq!(
            found(&repo, &acme, typed).await,
            vec!["F2026-00001"],
            "{typed}"
        );
        assert_eq!(
            found(&repo, &globex, typed).await,
            vec!["F2026-00001"],
            "{typed}"
        );
    }
    integrity(&test).await;
}

/// The query plan of `statement`, as text (PostgreSQL is told not to prefer a sequential scan of small tables).
async fn plan(db: &sea_orm::DatabaseConnection, statement: Statement) -> String {
    let backend = db.get_database_backend();
    let txn = db.begin().await.unwrap();
    let prefix = match backend {
        DbBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            "EXPLAIN "
        }
        _ => "EXPLAIN QUERY PLAN ",
    };
    let explained = Statement::from_sql_and_values(
        backend,
        format!("{prefix}{}", statement.sql),
        statement.values.map(|values| values.0).unwrap_or_default(),
    );
    let rows = txn.query_all_raw(explained).await.unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|row| {
            row.try_get_by_index::<String>(if backend == DbBackend::Postgres { 0 } else { 3 })
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_rare_word_is_looked_up_in_the_search_index_not_in_the_companys_invoices() {
    let test = fresh().await;
    let (acme, globex) = companies(&test).await;
    let repo = InvoiceRepository::new(test.db.clone());
    // Two companies of unequal size (in bulk, as `portal dev seed` writes them).
    for (scope, prefix, count) in [(&acme, "F", 20_000_i64), (&globex, "G", 50)] {
        let list: Vec<SeedInvoice> = (0..count)
            .map(|n| SeedInvoice {
                id: InvoiceId::new(),
                content: content(
                    &format!("{prefix}2026-{n:05}"),
                    "Durand SARL",
                    "",
                    10_000 + n,
                ),
                state: SubmissionState::Draft,
                order_id: None,
                events: Vec::new(),
                created_at: chrono::Utc::now(),
            })
            .collect();
        insert_invoices(&test.db, scope, &list).await.unwrap();
    }
    repo.create_draft(&acme, &content("F2026-99999", "Zébulon", "", 1), None)
        .await
        .unwrap();
    let backend = test.db.get_database_backend();
    if backend == DbBackend::Postgres {
        // The statistics autovacuum keeps in production (a fresh database has none, and the planner then takes
        // every table for a handful of rows).
        test.db.execute_unprepared("ANALYZE").await.unwrap();
    }
    let next_page = Some(Cursor {
        total_cents: 10_100,
        id: uuid::Uuid::now_v7(),
    });
    for (sort, after) in [
        (InvoiceSort::Recent, None),
        (InvoiceSort::TotalDesc, None),
        (InvoiceSort::Recent, next_page),
        (InvoiceSort::TotalAsc, next_page),
    ] {
        for (typed, index) in [
            (
                "zebulon",
                if backend == DbBackend::Postgres {
                    "idx_invoice_search_text"
                } else {
                    "invoice_search_fts"
                },
            ),
            ("f9", "idx_invoice_search_key"),
            // A number: every invoice's number shares its trigrams, so it is looked up by its suffixes.
            (
                "f2026-9999",
                if backend == DbBackend::Postgres {
                    "invoice_number_suffix_pkey"
                } else {
                    "SEARCH invoice_number_suffix USING PRIMARY KEY (tenant_id=? AND suffix>? AND suffix<?)"
                },
            ),
        ] {
            let filter = InvoiceFilter {
                search: Some(typed.into()),
                sort,
                ..Default::default()
            };
            let statement = repo.list_statement(&acme, &filter, after, 25);
            let plan = plan(&test.db, statement).await;
            assert!(plan.contains(index), "{typed}: {index} in {plan}");
            match backend {
                DbBackend::Postgres => {
                    assert!(!plan.contains("Seq Scan"), "{typed}: {plan}");
                    // Nothing read by the tenant alone (the company's rows): the invoices by id, one per match.
                    assert!(
                        plan.lines()
                            .filter(|line| line.contains("Cond: (tenant_id = "))
                            .all(|line| line.contains(" AND ")),
                        "{typed}: {plan}"
                    );
                    assert!(!plan.contains("Filter: (text ~~"), "{typed}: {plan}");
                }
                _ => {
                    // The invoices are read by id, one per match: never a walk of the company's invoices.
                    let reads: Vec<&str> = plan
                        .lines()
                        .filter(|line| line.contains(" invoices "))
                        .collect();
                    assert!(!reads.is_empty(), "{typed}: {plan}");
                    assert!(
                        reads.iter().all(|line| line.starts_with("SEARCH invoices")
                            && (line.ends_with(" AND id=?)") || line.ends_with("(id=?)"))),
                        "{typed}: {plan}"
                    );
                    assert!(!plan.contains("SCAN invoice_search "), "{typed}: {plan}");
                }
            }
        }
    }
    assert_eq!(found(&repo, &acme, "zebulon").await, vec!["F2026-99999"]);
    assert_eq!(found(&repo, &acme, "f2026-9999").await, vec!["F2026-99999"]);
}

#[tokio::test]
async fn the_numbers_stored_before_their_suffixes_are_found_after_the_migration() {
    use portal_migrations::SchemaManager;
    let test = fresh().await;
    let (acme, globex) = companies(&test).await;
    let repo = InvoiceRepository::new(test.db.clone());
    // The longest number PostgreSQL keeps (varchar(35)), all of it in suffixes.
    let long = format!("N{}", "7".repeat(search::SUFFIXED_NUMBER - 1));
    for number in ["F2026-00001", "Fé 2026/42", long.as_str()] {
        repo.create_draft(
            &acme,
            &content(number, "Société Générale", "", 123_450),
            None,
        )
        .await
        .unwrap();
    }
    repo.create_draft(&globex, &content("F2026-00001", "Dupont", "", 1), None)
        .await
        .unwrap();
    let migration = migration("m20261206_000028_number_suffixes");
    let texts = || async {
        let rows = invoice_search::Entity::find()
            .filter(invoice_search::Column::TenantId.eq(acme.tenant_id().as_uuid()))
            .all(&test.db)
            .await
            .unwrap();
        let mut texts: Vec<String> = rows.into_iter().map(|row| row.text).collect();
        texts.sort();
        texts
    };
    let written = texts().await;
    // Back to the text holding the number (as the invoices stored before it were), then the migration again.
    let txn = test.db.begin().await.unwrap();
    let manager = SchemaManager::new(&txn);
    migration.down(&manager).await.unwrap();
    txn.commit().await.unwrap();
    let before = texts().await;
    for number in ["f2026-00001", "fe 2026/42", long.to_lowercase().as_str()] {
        assert!(
            before
                .iter()
                .any(|text| text.starts_with(&format!("{number}\n"))),
            "{number} in {before:?}"
        );
    }
    let txn = test.db.begin().await.unwrap();
    migration.up(&SchemaManager::new(&txn)).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(texts().await, written, "the text the repository writes");
    for (typed, number) in [
        ("F2026-00001", "F2026-00001"),
        ("026-0000", "F2026-00001"),
        ("fe 2026", "Fé 2026/42"),
        ("026/4", "Fé 2026/42"),
        ("7777", long.as_str()),
        ("societe", "F2026-00001"),
    ] {
        let found = found(&repo, &acme, typed).await;
        assert!(found.contains(&number.to_owned()), "{typed}: {found:?}");
    }
    assert_eq!(found(&repo, &acme, "026-0000").await.len(), 1);
    assert_eq!(found(&repo, &globex, "026-0000").await, vec!["F2026-00001"]);
    assert!(found(&repo, &globex, "2026/4").await.is_empty());
    integrity(&test).await;
}
