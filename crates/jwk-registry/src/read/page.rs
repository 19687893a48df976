//! Pages of a list: a cursor (`after`) that is a name, stable under concurrent changes (an
//! entry that exists for the whole walk is listed exactly once; one created or deleted
//! meanwhile may or may not be), a limit, and a bound on how much one page reads.

use serde::Serialize;

use crate::error::{RegistryError, Result};
use crate::records::{component, name_of};
use crate::store::Store;

/// The most items one page holds.
pub const MAX_PAGE: usize = 1000;

/// The page size a list takes when none is given.
pub const DEFAULT_PAGE: usize = 500;

/// The most entries one page reads: a filter that matches little of a large list answers
/// a shorter page (even an empty one) with a `next` to go on from.
pub const PAGE_SCAN: usize = 10_000;

/// A page of a list, and the cursor of the next page (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Give it as `after` for the next page.
    pub next: Option<String>,
}

/// Every item of a list, page after page: `page_of` reads the page after a cursor (`None`:
/// the first).
pub(crate) fn all_pages<T>(
    mut page_of: impl FnMut(Option<String>) -> Result<Page<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = page_of(after)?;
        out.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}

/// A page's limit, checked: 1 to [`MAX_PAGE`].
pub(crate) fn check_limit(limit: usize) -> Result<usize> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(RegistryError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}!"
        )))
    }
}

/// Where a name sorts in a page's order: the store's order of its key component (bytes,
/// with `/` written `%2F` and `%` written `%25`).
pub(crate) fn order(name: &str) -> String {
    component(name)
}

/// What a cursor is: the name a key's last component encodes, or the rest of the key after
/// the list's prefix as stored (several components, escaped).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cursor {
    Name,
    Key,
}

/// A page of the entries under `base` (a store prefix ending in `/`): those whose rest
/// starts with `name_prefix` (a name, with [`Cursor::Name`]) and sort after `after`. `view`
/// turns an entry (the rest of its key after `base`, its value) into an item, or skips it
/// (`None`); the page ends at `limit` items
/// or after [`PAGE_SCAN`] entries, and has a `next` only when an entry follows.
pub(crate) fn walk<T>(
    store: &dyn Store,
    (base, cursor): (&str, Cursor),
    name_prefix: Option<&str>,
    after: Option<&str>,
    limit: usize,
    mut view: impl FnMut(&str, &[u8]) -> Result<Option<T>>,
) -> Result<Page<T>> {
    let encode = |name: &str| match cursor {
        Cursor::Name => component(name),
        Cursor::Key => name.to_owned(),
    };
    let prefix = format!("{base}{}", encode(name_prefix.unwrap_or("")));
    let mut after = after.map(|a| format!("{base}{}", encode(a)));
    let (mut items, mut scanned) = (Vec::new(), 0usize);
    loop {
        let chunk = limit.saturating_sub(items.len()).clamp(16, 256);
        let page = store.scan_page(
            prefix.as_bytes(),
            after.as_deref().map(str::as_bytes),
            chunk,
        )?;
        let Some((last, _)) = page.last() else {
            return Ok(Page { items, next: None });
        };
        let last = String::from_utf8_lossy(last).into_owned();
        for (key, value) in &page {
            scanned += 1;
            let rest = String::from_utf8_lossy(key.get(base.len()..).unwrap_or_default());
            if let Some(item) = view(&rest, &value.value)? {
                items.push(item);
            }
            if items.len() >= limit || scanned >= PAGE_SCAN {
                let more = !store.scan_page(prefix.as_bytes(), Some(key), 1)?.is_empty();
                let key = String::from_utf8_lossy(key);
                let rest = key.get(base.len()..).unwrap_or_default();
                let next = more.then(|| match cursor {
                    Cursor::Name => name_of(rest),
                    Cursor::Key => rest.to_owned(),
                });
                return Ok(Page { items, next });
            }
        }
        after = Some(last);
    }
}
