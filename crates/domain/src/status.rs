//! The catalogue of lifecycle statuses (XP Z12-012 / DGFiP specifications v3.2, plus the PPF's and
//! Billit's codes), the reason codes allowed on each status (BR-FR-CDV-CL-09) and the requested
//! actions.
//!
//! Unknown codes are representable ([`StatusCode`] is any `u16`) and shown as
//! "Statut inconnu N" / "unknown status N": they are stored and shown, never dropped.

use crate::lang::Language;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A status code, known or not (e.g. 207).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// 200 Déposée.
    pub const DEPOSITED: Self = Self(200);
    /// 201 Émise par la plateforme.
    pub const ISSUED: Self = Self(201);
    /// 202 Reçue par la plateforme.
    pub const RECEIVED: Self = Self(202);
    /// 203 Mise à disposition.
    pub const MADE_AVAILABLE: Self = Self(203);
    /// 204 Prise en charge.
    pub const TAKEN_IN_CHARGE: Self = Self(204);
    /// 205 Approuvée.
    pub const APPROVED: Self = Self(205);
    /// 206 Approuvée partiellement.
    pub const PARTIALLY_APPROVED: Self = Self(206);
    /// 207 En litige.
    pub const DISPUTED: Self = Self(207);
    /// 208 Suspendue.
    pub const SUSPENDED: Self = Self(208);
    /// 209 Complétée.
    pub const COMPLETED: Self = Self(209);
    /// 210 Refusée.
    pub const REFUSED: Self = Self(210);
    /// 211 Paiement transmis.
    pub const PAYMENT_SENT: Self = Self(211);
    /// 212 Encaissée.
    pub const CASHED: Self = Self(212);
    /// 213 Rejetée.
    pub const REJECTED: Self = Self(213);
    /// 220 Annulée.
    pub const CANCELLED: Self = Self(220);
    /// 250 Déposée (tax data).
    pub const TAX_DATA_DEPOSITED: Self = Self(250);
    /// 251 Rejetée (tax data).
    pub const TAX_DATA_REJECTED: Self = Self(251);
    /// 500 Recevable.
    pub const RECEIVABLE: Self = Self(500);
    /// 501 Irrecevable.
    pub const NOT_RECEIVABLE: Self = Self(501);

    /// Parses a code written as digits (e.g. `"207"`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().map(Self)
    }

    /// The number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The catalogue entry, `None` for an unknown code.
    pub fn info(self) -> Option<&'static StatusInfo> {
        STATUSES.iter().find(|info| info.code == self.0)
    }

    /// Whether the code is in the catalogue.
    pub fn is_known(self) -> bool {
        self.info().is_some()
    }

    /// Whether the code is final (after it, no business status changes the outcome).
    pub fn is_final(self) -> bool {
        self.info().is_some_and(|info| info.is_final)
    }

    /// The label, e.g. "En litige" / "Disputed"; "Statut inconnu 999" / "unknown status 999".
    pub fn label(self, language: Language) -> String {
        match self.info() {
            Some(info) => language.pick(info.label_fr, info.label_en).to_owned(),
            None => match language {
                Language::Fr => format!("Statut inconnu {}", self.0),
                Language::En => format!("unknown status {}", self.0),
            },
        }
    }

    /// Finds a known status by its French or English label (case- and accent-insensitive).
    /// When two codes share a label, the lower code wins.
    pub fn from_label(text: &str) -> Option<Self> {
        let wanted = fold_label(text);
        if wanted.is_empty() {
            return None;
        }
        STATUSES
            .iter()
            .find(|info| fold_label(info.label_fr) == wanted || fold_label(info.label_en) == wanted)
            .map(|info| Self(info.code))
    }
}

fn fold_label(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' | 'À' | 'Â' | 'Ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'î' | 'ï' | 'Î' | 'Ï' => 'i',
            'ô' | 'ö' | 'Ô' | 'Ö' => 'o',
            'ù' | 'û' | 'ü' | 'Ù' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u16> for StatusCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

/// Who emits a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Emitter {
    /// The supplier (seller) itself, through its platform (e.g. 212).
    Supplier,
    /// The seller's approved platform (Billit).
    SellerPlatform,
    /// The buyer's approved platform.
    BuyerPlatform,
    /// Either platform (213).
    EitherPlatform,
    /// The buyer.
    Buyer,
    /// The government hub (PPF).
    Ppf,
}

/// The phase a status belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Transmission: ordered (200 or 213, then 201, 202 or 213, 203).
    Transmission,
    /// Processing by the buyer (204–212 and related): in any order.
    Processing,
    /// Exchanges with the PPF about tax data, files and statuses (250, 251, 300, 301, 500, 501, 601).
    Reporting,
}

/// What the supplier is expected to do after a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplierAction {
    /// Answer the dispute, or issue a credit note / corrected invoice (207).
    AnswerDispute,
    /// Send the requested information, typically by email (208).
    ProvideInformation,
    /// Fix the invoice and issue it again (210, 213, 251, 301, 501).
    FixAndReissue,
    /// Record the payment once received, which emits 212 (211, 212).
    RecordPayment,
    /// Check the buyer's electronic address and send again (221).
    CheckRouting,
    /// Check the status the supplier sent, which the PPF rejected (601).
    CheckStatusSent,
}

impl SupplierAction {
    /// What to do, in plain words.
    pub fn label(self, language: Language) -> &'static str {
        match self {
            Self::AnswerDispute => language.pick(
                "Répondre au litige, ou émettre un avoir ou une facture rectificative",
                "Answer the dispute, or issue a credit note or a corrected invoice",
            ),
            Self::ProvideInformation => language.pick(
                "Envoyer les informations demandées (par exemple par e-mail)",
                "Send the requested information (for example by email)",
            ),
            Self::FixAndReissue => language.pick(
                "Corriger la facture et l'émettre à nouveau",
                "Fix the invoice and issue it again",
            ),
            Self::RecordPayment => language.pick(
                "Enregistrer le paiement une fois encaissé",
                "Record the payment once received",
            ),
            Self::CheckRouting => language.pick(
                "Vérifier l'adresse électronique du client et renvoyer",
                "Check the customer's electronic address and send again",
            ),
            Self::CheckStatusSent => language.pick(
                "Vérifier le statut envoyé, refusé par le PPF",
                "Check the status that was sent, which the PPF refused",
            ),
        }
    }
}

/// A catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusInfo {
    /// The code.
    pub code: u16,
    /// The official French label.
    pub label_fr: &'static str,
    /// An English label.
    pub label_en: &'static str,
    /// What it means, in French.
    pub meaning_fr: &'static str,
    /// What it means, in English.
    pub meaning_en: &'static str,
    /// Who emits it.
    pub emitter: Emitter,
    /// Its phase.
    pub phase: Phase,
    /// Whether the official list makes it mandatory.
    pub mandatory: bool,
    /// Whether it ends the lifecycle.
    pub is_final: bool,
    /// What the supplier should do, if anything.
    pub supplier_action: Option<SupplierAction>,
}

impl StatusInfo {
    /// The label in a language.
    pub fn label(&self, language: Language) -> &'static str {
        language.pick(self.label_fr, self.label_en)
    }

    /// The meaning in a language.
    pub fn meaning(&self, language: Language) -> &'static str {
        language.pick(self.meaning_fr, self.meaning_en)
    }

    /// The code as a [`StatusCode`].
    pub const fn status_code(&self) -> StatusCode {
        StatusCode(self.code)
    }
}

#[expect(clippy::too_many_arguments, reason = "a compact table row constructor")]
const fn entry(
    code: u16,
    label_fr: &'static str,
    label_en: &'static str,
    meaning_fr: &'static str,
    meaning_en: &'static str,
    emitter: Emitter,
    phase: Phase,
    mandatory: bool,
    is_final: bool,
    supplier_action: Option<SupplierAction>,
) -> StatusInfo {
    StatusInfo {
        code,
        label_fr,
        label_en,
        meaning_fr,
        meaning_en,
        emitter,
        phase,
        mandatory,
        is_final,
        supplier_action,
    }
}

use Emitter as E;
use Phase as P;
use SupplierAction as A;

/// Every known status, by code.
#[rustfmt::skip]
pub static STATUSES: [StatusInfo; 33] = [
    entry(200, "Déposée", "Deposited",
        "Acceptée par la plateforme du vendeur (et déclarée)", "Accepted by the seller's platform (and reported)",
        E::SellerPlatform, P::Transmission, true, false, None),
    entry(201, "Émise par la plateforme", "Issued by the platform",
        "Transmise à la plateforme du client", "Sent on to the buyer's platform",
        E::SellerPlatform, P::Transmission, false, false, None),
    entry(202, "Reçue par la plateforme", "Received by the platform",
        "Reçue par la plateforme du client", "Received by the buyer's platform",
        E::BuyerPlatform, P::Transmission, false, false, None),
    entry(203, "Mise à disposition", "Made available",
        "Mise à disposition du client", "Made available to the buyer",
        E::BuyerPlatform, P::Transmission, false, false, None),
    entry(204, "Prise en charge", "Taken in charge",
        "Le client accuse réception de la facture", "The buyer acknowledges receipt",
        E::Buyer, P::Processing, false, false, None),
    entry(205, "Approuvée", "Approved",
        "Le client approuve toute la facture", "The buyer approves the whole invoice",
        E::Buyer, P::Processing, false, false, None),
    entry(206, "Approuvée partiellement", "Partially approved",
        "Le client approuve une partie de la facture", "The buyer approves part of the invoice",
        E::Buyer, P::Processing, false, false, None),
    entry(207, "En litige", "Disputed",
        "Le client conteste tout ou partie de la facture", "The buyer disputes all or part of the invoice",
        E::Buyer, P::Processing, false, false, Some(A::AnswerDispute)),
    entry(208, "Suspendue", "Suspended",
        "Le client a besoin d'informations complémentaires ; traitement suspendu",
        "The buyer needs more information; processing is suspended",
        E::Buyer, P::Processing, false, false, Some(A::ProvideInformation)),
    entry(209, "Complétée", "Completed",
        "Les informations demandées ont été fournies", "The requested information was supplied",
        E::Supplier, P::Processing, false, false, None),
    entry(210, "Refusée", "Refused",
        "Le client refuse toute la facture (définitif)", "The buyer refuses the whole invoice (final)",
        E::Buyer, P::Processing, true, true, Some(A::FixAndReissue)),
    entry(211, "Paiement transmis", "Payment sent",
        "Le client a payé", "The buyer has paid",
        E::Buyer, P::Processing, false, false, Some(A::RecordPayment)),
    entry(212, "Encaissée", "Payment received",
        "Le vendeur a encaissé le paiement (total ou partiel)", "The seller received payment (full or partial)",
        E::Supplier, P::Processing, true, false, Some(A::RecordPayment)),
    entry(213, "Rejetée", "Rejected",
        "Une plateforme l'a rejetée aux contrôles réglementaires (définitif)",
        "A platform rejected it on regulatory checks (final)",
        E::EitherPlatform, P::Transmission, true, true, Some(A::FixAndReissue)),
    entry(214, "Visée", "Endorsed",
        "La facture a été visée par le client", "The invoice was endorsed by the buyer",
        E::Buyer, P::Processing, false, false, None),
    entry(220, "Annulée", "Cancelled",
        "Le cycle de vie de la facture est annulé (par exemple après une facture rectificative)",
        "The invoice's lifecycle is cancelled (e.g. after a corrected invoice)",
        E::Supplier, P::Processing, false, true, None),
    entry(221, "Erreur de routage", "Routing error",
        "La facture n'a pas pu être acheminée au bon destinataire", "The invoice could not be routed to the right recipient",
        E::BuyerPlatform, P::Transmission, false, false, Some(A::CheckRouting)),
    entry(224, "Demande de paiement direct", "Direct payment requested",
        "Un sous-traitant demande le paiement direct", "A subcontractor requests direct payment",
        E::Supplier, P::Processing, false, false, None),
    entry(225, "Affacturée", "Factored",
        "La créance a été cédée à un affactureur", "The receivable was assigned to a factor",
        E::Supplier, P::Processing, false, false, None),
    entry(226, "Affacturée confidentiel", "Factored (confidential)",
        "La créance a été cédée à un affactureur, sans notification", "The receivable was assigned to a factor, undisclosed",
        E::Supplier, P::Processing, false, false, None),
    entry(227, "Changement de compte à payer", "Payee account changed",
        "Le compte à payer a changé", "The account to be paid has changed",
        E::Supplier, P::Processing, false, false, None),
    entry(228, "Non affacturée", "Not factored",
        "La créance n'est pas (ou plus) affacturée", "The receivable is not (or no longer) factored",
        E::Supplier, P::Processing, false, false, None),
    entry(250, "Déposée (données fiscales)", "Tax data deposited",
        "Les données fiscales (flux 1) ont été déposées au PPF", "The tax data (Flux 1) was deposited with the PPF",
        E::Ppf, P::Reporting, false, false, None),
    entry(251, "Rejetée (données fiscales)", "Tax data rejected",
        "Le PPF a rejeté les données fiscales (flux 1) (définitif)", "The PPF rejected the tax data (Flux 1) (final)",
        E::Ppf, P::Reporting, false, true, Some(A::FixAndReissue)),
    entry(280, "Routée", "Routed",
        "Acheminée / transmise par le PPF", "Routed / transmitted by the PPF",
        E::Ppf, P::Transmission, false, false, None),
    entry(281, "Délivrée à l'étape suivante", "Delivered to the next step",
        "Délivrée à l'étape suivante ; le destinataire peut y accéder",
        "Delivered to the next step; the recipient can access it",
        E::Ppf, P::Transmission, false, false, None),
    entry(300, "E-reporting déposé", "E-reporting deposited",
        "Les données d'e-reporting (flux 10) ont été déposées", "The e-reporting data (Flux 10) was deposited",
        E::Ppf, P::Reporting, false, false, None),
    entry(301, "E-reporting rejeté", "E-reporting rejected",
        "Le PPF a rejeté les données d'e-reporting (flux 10)", "The PPF rejected the e-reporting data (Flux 10)",
        E::Ppf, P::Reporting, false, true, Some(A::FixAndReissue)),
    entry(400, "Annuaire : demande acceptée", "Directory: request accepted",
        "L'annuaire a accepté la demande (inscription ou mise à jour d'une adresse électronique)",
        "The directory accepted the request (a registration or an electronic address update)",
        E::Ppf, P::Reporting, false, false, None),
    entry(401, "Annuaire : demande rejetée", "Directory: request rejected",
        "L'annuaire a rejeté la demande (inscription ou mise à jour d'une adresse électronique)",
        "The directory rejected the request (a registration or an electronic address update)",
        E::Ppf, P::Reporting, false, false, None),
    entry(500, "Recevable", "Receivable",
        "Le PPF a accepté le fichier", "The PPF accepted the file",
        E::Ppf, P::Reporting, false, false, None),
    entry(501, "Irrecevable", "Not receivable",
        "Le PPF a refusé le fichier (définitif)", "The PPF refused the file (final)",
        E::Ppf, P::Reporting, false, true, Some(A::FixAndReissue)),
    entry(601, "Statut rejeté", "Status rejected",
        "Le PPF a rejeté un statut envoyé", "The PPF rejected a status that was sent",
        E::Ppf, P::Reporting, false, false, Some(A::CheckStatusSent)),
];

/// A reason code (BR-FR-CDV-CL-09) with its labels and the statuses it may accompany.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCode {
    /// The code, e.g. `TX_TVA_ERR`.
    pub code: &'static str,
    /// French label.
    pub label_fr: &'static str,
    /// English label.
    pub label_en: &'static str,
    /// The status codes it is allowed on.
    pub allowed_on: &'static [u16],
}

impl ReasonCode {
    /// Finds a reason by code (case-insensitive, trimmed).
    pub fn find(code: &str) -> Option<&'static Self> {
        let code = code.trim();
        REASONS
            .iter()
            .find(|reason| reason.code.eq_ignore_ascii_case(code))
    }

    /// The label in a language.
    pub fn label(&self, language: Language) -> &'static str {
        language.pick(self.label_fr, self.label_en)
    }

    /// Whether it may accompany `status`.
    pub fn allowed_on(&self, status: StatusCode) -> bool {
        self.allowed_on.contains(&status.0)
    }
}

/// Whether `reason` is a known reason allowed on `status`.
pub fn reason_allowed(status: StatusCode, reason: &str) -> bool {
    ReasonCode::find(reason).is_some_and(|known| known.allowed_on(status))
}

/// The reasons allowed on `status`, in catalogue order.
pub fn reasons_for(status: StatusCode) -> Vec<&'static ReasonCode> {
    REASONS
        .iter()
        .filter(|reason| reason.allowed_on(status))
        .collect()
}

/// Whether a status must carry at least one reason (206, 207, 208, 210, 213, 501).
pub fn reason_required(status: StatusCode) -> bool {
    matches!(status.0, 206 | 207 | 208 | 210 | 213 | 501)
}

/// The label of a reason code; an unknown code is shown as itself.
pub fn reason_label(code: &str, language: Language) -> String {
    ReasonCode::find(code).map_or_else(
        || code.trim().to_owned(),
        |reason| reason.label(language).to_owned(),
    )
}

const ON_206_207: &[u16] = &[206, 207];
const ON_206_207_208: &[u16] = &[206, 207, 208];
const ON_206_207_208_210: &[u16] = &[206, 207, 208, 210];
const ON_207_208: &[u16] = &[207, 208];
const ON_207_210: &[u16] = &[207, 210];
const ON_207_210_213: &[u16] = &[207, 210, 213];
const ON_207_213: &[u16] = &[207, 213];
const ON_208: &[u16] = &[208];
/// REJ_* codes: on 213, and also on 251 because the PPF's Flux 1 rejection carries them (seed 003).
const ON_213_251: &[u16] = &[213, 251];
const ON_501: &[u16] = &[501];

const fn reason(
    code: &'static str,
    label_fr: &'static str,
    label_en: &'static str,
    allowed_on: &'static [u16],
) -> ReasonCode {
    ReasonCode {
        code,
        label_fr,
        label_en,
        allowed_on,
    }
}

/// Every known reason code.
#[rustfmt::skip]
pub static REASONS: [ReasonCode; 44] = [
    reason("AUTRE", "Autre", "Other", ON_206_207),
    reason("CMD_ERR", "Référence de commande erronée ou absente", "Wrong or missing order reference", ON_206_207_208_210),
    reason("SIRET_ERR", "SIRET erroné ou absent", "Wrong or missing SIRET", ON_206_207_208),
    reason("CODE_ROUTAGE_ERR", "Code de routage erroné ou absent", "Wrong or missing routing code", ON_206_207_208),
    reason("REF_CT_ABSENT", "Référence de contrat absente", "Missing contract reference", ON_206_207_208_210),
    reason("REF_ERR", "Référence erronée", "Wrong reference", ON_206_207_208),
    reason("PU_ERR", "Prix unitaire erroné", "Wrong unit price", ON_206_207),
    reason("REM_ERR", "Remise erronée", "Wrong discount", ON_206_207),
    reason("QTE_ERR", "Quantité erronée", "Wrong quantity", ON_206_207),
    reason("ART_ERR", "Article erroné", "Wrong item", ON_206_207),
    reason("MODPAI_ERR", "Modalités de paiement erronées", "Wrong payment terms", ON_206_207),
    reason("QUALITE_ERR", "Qualité non conforme", "Quality not as agreed", ON_206_207),
    reason("LIVR_INCOMP", "Livraison incomplète", "Incomplete delivery", ON_206_207),
    reason("COORD_BANC_ERR", "Coordonnées bancaires erronées", "Wrong bank details", ON_207_208),
    reason("TX_TVA_ERR", "Taux de TVA erroné", "Wrong VAT rate", ON_207_210),
    reason("MONTANTTOTAL_ERR", "Montant total erroné", "Wrong total amount", ON_207_210_213),
    reason("CALCUL_ERR", "Erreur de calcul", "Calculation error", ON_207_210_213),
    reason("NON_CONFORME", "Facture non conforme", "Non-compliant invoice", ON_207_210),
    reason("DOUBLON", "Doublon", "Duplicate", ON_207_210_213),
    reason("DEST_INC", "Destinataire inconnu", "Unknown recipient", ON_207_213),
    reason("DEST_ERR", "Erreur de destinataire", "Wrong recipient", ON_207_210),
    reason("TRANSAC_INC", "Transaction inconnue", "Unknown transaction", ON_207_210),
    reason("EMMET_INC", "Émetteur inconnu", "Unknown issuer", ON_207_210),
    reason("CONTRAT_TERM", "Contrat terminé", "Contract ended", ON_207_210),
    reason("DOUBLE_FACT", "Double facturation", "Invoiced twice", ON_207_210),
    reason("ADR_ERR", "Adresse erronée", "Wrong address", ON_207_210_213),
    reason("JUSTIF_ABS", "Justificatif absent", "Supporting document missing", ON_208),
    reason("REJ_SEMAN", "Rejet sémantique", "Semantic rejection", ON_213_251),
    reason("REJ_UNI", "Rejet pour non-unicité", "Not unique", ON_213_251),
    reason("REJ_COH", "Rejet pour incohérence", "Inconsistent data", ON_213_251),
    reason("REJ_ADR", "Rejet d'adressage", "Addressing rejection", ON_213_251),
    reason("REJ_CONT_B2G", "Rejet de contrôle B2G", "Public-sector (B2G) check failed", ON_213_251),
    reason("REJ_REF_PJ", "Rejet de référence de pièce jointe", "Attachment reference rejected", ON_213_251),
    reason("REJ_ASS_PJ", "Rejet d'association de pièce jointe", "Attachment association rejected", ON_213_251),
    reason("IRR_VIDE_F", "Fichier vide", "Empty file", ON_501),
    reason("IRR_TYPE_F", "Type de fichier incorrect", "Wrong file type", ON_501),
    reason("IRR_SYNTAX", "Erreur de syntaxe", "Syntax error", ON_501),
    reason("IRR_TAILLE_PJ", "Pièce jointe trop volumineuse", "Attachment too large", ON_501),
    reason("IRR_NOM_PJ", "Nom de pièce jointe incorrect", "Wrong attachment name", ON_501),
    reason("IRR_VID_PJ", "Pièce jointe vide", "Empty attachment", ON_501),
    reason("IRR_EXT_DOC", "Extension de document incorrecte", "Wrong document extension", ON_501),
    reason("IRR_TAILLE_F", "Fichier trop volumineux", "File too large", ON_501),
    reason("IRR_ANTIVIRUS", "Rejet par l'antivirus", "Rejected by the antivirus", ON_501),
    reason("IRR_NOM_F", "Nom de fichier incorrect", "Wrong file name", ON_501),
];

/// An action the emitter of a status asks for (`RequestedActionCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RequestedAction {
    /// No action required.
    Noa,
    /// Provide information.
    Pin,
    /// Issue a new (corrective) invoice.
    Nin,
    /// Issue a full credit note.
    Cnf,
    /// Issue a partial credit note.
    Cnp,
    /// Issue a credit note for the stated amount.
    Cna,
    /// Other.
    Oth,
}

impl RequestedAction {
    /// Every requested action.
    pub const ALL: [Self; 7] = [
        Self::Noa,
        Self::Pin,
        Self::Nin,
        Self::Cnf,
        Self::Cnp,
        Self::Cna,
        Self::Oth,
    ];

    /// The code, e.g. `NIN`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Noa => "NOA",
            Self::Pin => "PIN",
            Self::Nin => "NIN",
            Self::Cnf => "CNF",
            Self::Cnp => "CNP",
            Self::Cna => "CNA",
            Self::Oth => "OTH",
        }
    }

    /// Parses a code (case-insensitive).
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim();
        Self::ALL
            .into_iter()
            .find(|action| action.code().eq_ignore_ascii_case(code))
    }

    /// The label in a language.
    pub fn label(self, language: Language) -> &'static str {
        match self {
            Self::Noa => language.pick("Aucune action requise", "No action required"),
            Self::Pin => language.pick("Fournir des informations", "Provide information"),
            Self::Nin => language.pick(
                "Émettre une facture rectificative",
                "Issue a corrective invoice",
            ),
            Self::Cnf => language.pick("Émettre un avoir total", "Issue a full credit note"),
            Self::Cnp => language.pick("Émettre un avoir partiel", "Issue a partial credit note"),
            Self::Cna => language.pick(
                "Émettre un avoir du montant indiqué",
                "Issue a credit note for the stated amount",
            ),
            Self::Oth => language.pick("Autre action", "Other action"),
        }
    }
}

impl fmt::Display for RequestedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The label of a requested-action code; an unknown code is shown as itself.
pub fn requested_action_label(code: &str, language: Language) -> String {
    RequestedAction::parse(code).map_or_else(
        || code.trim().to_owned(),
        |action| action.label(language).to_owned(),
    )
}
