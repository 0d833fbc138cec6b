//! The people directory alerts and digests are routed by: `[[people]]` in `bellwether.toml` over the people
//! the store holds from the `people` import kind (a person in both is as the config says). Owners in the book
//! are matched to it by email, case-insensitively ([`bellwether_core::people`] describes a person).

pub use bellwether_core::people::{Person, QuietHours};
use bellwether_store::Store;

/// The directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct People(pub Vec<Person>);

impl People {
    /// The person an owner names (by email, case-insensitively).
    pub fn get(&self, owner: &str) -> Option<&Person> {
        let k = bellwether_core::people::key(owner);
        self.0
            .iter()
            .find(|p| bellwether_core::people::key(&p.email) == k)
    }

    /// Checks every person, and that no email comes twice.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for p in &self.0 {
            p.check().map_err(|e| format!("[[people]] {e}"))?;
            if !seen.insert(bellwether_core::people::key(&p.email)) {
                return Err(format!("[[people]] {} comes twice", p.email));
            }
        }
        Ok(())
    }

    /// `configured` over `imported`: everyone in either, as the config says for a person in both.
    pub fn over(configured: &People, imported: Vec<Person>) -> People {
        let mut all = configured.0.clone();
        all.extend(
            imported
                .into_iter()
                .filter(|p| configured.get(&p.email).is_none()),
        );
        People(all)
    }

    /// The directory in force: `configured` over the people `store` holds.
    pub async fn read<S: Store + ?Sized>(
        store: &S,
        configured: &People,
    ) -> bellwether_store::Result<People> {
        Ok(People::over(configured, store.people().await?))
    }

    /// Whether `person` may act on an account `owner` owns: they are its owner, or the owner's leader.
    pub fn may_act(&self, person: &Person, owner: &str) -> bool {
        let me = bellwether_core::people::key(&person.email);
        me == bellwether_core::people::key(owner)
            || self.get(owner).is_some_and(|o| {
                o.leader
                    .as_deref()
                    .is_some_and(|l| bellwether_core::people::key(l) == me)
            })
    }

    /// The person whose Slack user id is `user`.
    pub fn by_slack_user(&self, user: &str) -> Option<&Person> {
        self.0
            .iter()
            .find(|p| p.slack_user_id.as_deref() == Some(user))
    }
}
