//! The book's reporting currency: which currencies its ARR is held in, and the rates (from `[money]`) that
//! bring them into one currency for sums and rankings. A book in several currencies without rates is refused
//! rather than added up.

use bellwether_core::history::attr;
use bellwether_core::{Currency, MoneyConfig, Rates};
use bellwether_store::{Book, Result, Store};
use std::collections::BTreeSet;

/// Every currency ARR is held in: the accounts' `currency` attributes, USD for accounts with ARR but no
/// currency, and the currencies of `loaded` accounts' subscriptions.
pub async fn book_currencies<S: Store + ?Sized>(
    store: &S,
    loaded: Option<&Book>,
) -> Result<BTreeSet<Currency>> {
    let (arr, cur) = tokio::try_join!(
        store.account_attr(attr::ARR),
        store.account_attr(attr::CURRENCY)
    )?;
    let with_currency: std::collections::HashSet<_> = cur.iter().map(|(id, _)| id).collect();
    let mut out: BTreeSet<Currency> = cur
        .iter()
        .filter_map(|(_, c)| Currency::parse(c).ok())
        .collect();
    if arr.iter().any(|(id, _)| !with_currency.contains(id)) {
        out.insert(Currency::USD);
    }
    if let Some(book) = loaded {
        for a in book.accounts.values() {
            out.extend(a.subscriptions.iter().map(|s| s.mrr.currency));
        }
    }
    Ok(out)
}

/// The book's rates under `cfg`: `Ok(Err(message))` when its currencies cannot be brought into one, the
/// message saying what to configure.
pub async fn book_rates<S: Store + ?Sized>(
    store: &S,
    cfg: &MoneyConfig,
    loaded: Option<&Book>,
) -> Result<std::result::Result<Rates, String>> {
    Ok(cfg.resolve(&book_currencies(store, loaded).await?))
}

/// The currencies of a loaded book's ARR as of `as_of` (attributes and subscriptions), for passes that have
/// the book in hand but not the store.
pub fn loaded_currencies(book: &Book, as_of: bellwether_core::Day) -> BTreeSet<Currency> {
    let mut out = BTreeSet::new();
    for (id, a) in &book.accounts {
        if let Some(m) = a.view(id, as_of).arr {
            out.insert(m.currency);
        }
        out.extend(a.subscriptions.iter().map(|s| s.mrr.currency));
    }
    out
}

/// The book's rates under `cfg` for a pass: when its currencies cannot be brought into one, a warning and the
/// reporting currency alone, so amounts without a rate count as unknown and are never added.
pub async fn rates_or_reporting<S: Store + ?Sized>(
    store: &S,
    cfg: &MoneyConfig,
    loaded: &Book,
) -> Result<Rates> {
    Ok(resolve_or_reporting(
        cfg,
        &book_currencies(store, Some(loaded)).await?,
    ))
}

fn resolve_or_reporting(cfg: &MoneyConfig, currencies: &BTreeSet<Currency>) -> Rates {
    match cfg.resolve(currencies) {
        Ok(rates) => rates,
        Err(why) => {
            tracing::warn!("{why}");
            Rates::single(cfg.reporting_currency.unwrap_or(Currency::USD))
        }
    }
}

/// How long a process keeps the book's currencies before reading them again (an import by another process
/// can bring a new one).
pub const KEEP_CURRENCIES: std::time::Duration = std::time::Duration::from_secs(600);

/// The book's currencies as a pass last read them from the store, kept between the passes of one process (a
/// server's live re-assessments) so a pass over a few accounts does not read every account's ARR again; read
/// again by a full pass, or once they are [`KEEP_CURRENCIES`] old.
#[derive(Debug, Default)]
pub struct KnownCurrencies(std::sync::Mutex<Option<(std::time::Instant, BTreeSet<Currency>)>>);

impl KnownCurrencies {
    /// The rates of a pass (see [`rates_or_reporting`]): a full pass, the first pass of the process, or one
    /// after the kept set has aged reads the book's currencies from the store and keeps them; a pass over a
    /// few accounts otherwise takes the kept ones with the loaded accounts' own as of `as_of` (a currency new
    /// to the book arrives with its accounts).
    pub async fn rates<S: Store + ?Sized>(
        &self,
        store: &S,
        cfg: &MoneyConfig,
        loaded: &Book,
        as_of: bellwether_core::Day,
        full: bool,
    ) -> Result<Rates> {
        let kept = self
            .0
            .lock()
            .expect("currencies")
            .clone()
            .filter(|(at, _)| !full && at.elapsed() < KEEP_CURRENCIES);
        let set = match kept {
            Some((at, mut set)) => {
                set.extend(loaded_currencies(loaded, as_of));
                *self.0.lock().expect("currencies") = Some((at, set.clone()));
                set
            }
            None => {
                let set = book_currencies(store, Some(loaded)).await?;
                *self.0.lock().expect("currencies") =
                    Some((std::time::Instant::now(), set.clone()));
                set
            }
        };
        Ok(resolve_or_reporting(cfg, &set))
    }
}
