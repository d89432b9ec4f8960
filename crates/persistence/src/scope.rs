//! The capability to touch one tenant's data.
//!
//! A [`TenantScope`] can only be obtained from a check: the membership look-up ([`crate::memberships`]) for a
//! signed-in user, or a claimed job's own tenant for a worker. Every repository function over tenant-owned rows
//! takes one, so no handler ever compares tenant ids by hand.

use portal_domain::ids::TenantId;

/// A role inside one tenant, from the least to the most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantRole {
    Viewer,
    Member,
    Admin,
}

impl TenantRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Proof that the holder may act on `tenant_id` with `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant_id: TenantId,
    role: TenantRole,
    via: ScopeOrigin,
}

impl ScopeOrigin {
    /// What the audit log's `acting_as` column says of an entry made with such a scope.
    pub fn acting_as(self) -> &'static str {
        match self {
            Self::Membership | Self::ApiToken => "company",
            Self::FirmAdmin | Self::FirmPortfolio => "firm",
            Self::Job | Self::Webhook => "system",
        }
    }
}

/// How a scope came to be, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeOrigin {
    /// A user's membership in the tenant.
    Membership,
    /// A background job enqueued for the tenant.
    Job,
    /// A firm administrator helping the tenant.
    FirmAdmin,
    /// A firm accountant whose portfolio holds the tenant.
    FirmPortfolio,
    /// A Billit webhook delivered to the tenant's own endpoint token.
    Webhook,
    /// A request of the JSON API with one of the tenant's API tokens (read: viewer, read and write: member).
    ApiToken,
}

impl TenantScope {
    /// Only this crate mints scopes, after the check that justifies them.
    pub(crate) fn new(tenant_id: TenantId, role: TenantRole, via: ScopeOrigin) -> Self {
        Self {
            tenant_id,
            role,
            via,
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    pub fn role(&self) -> TenantRole {
        self.role
    }

    pub fn origin(&self) -> ScopeOrigin {
        self.via
    }

    /// Whether the holder acts as the firm (its staff) rather than as the company's own user.
    pub fn is_firm(&self) -> bool {
        matches!(
            self.via,
            ScopeOrigin::FirmAdmin | ScopeOrigin::FirmPortfolio
        )
    }

    /// At least `role`? (Admins can do what members can, members what viewers can.)
    pub fn allows(&self, role: TenantRole) -> bool {
        self.role >= role
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_weaker_ones() {
        let member = TenantScope::new(TenantId::new(), TenantRole::Member, ScopeOrigin::Membership);
        assert!(member.allows(TenantRole::Viewer));
        assert!(member.allows(TenantRole::Member));
        assert!(!member.allows(TenantRole::Admin));
        for role in [TenantRole::Viewer, TenantRole::Member, TenantRole::Admin] {
            assert_eq!(TenantRole::parse(role.as_str()), Some(role));
        }
    }
}
