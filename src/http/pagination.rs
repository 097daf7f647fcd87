//! `meta.pagination` for collections read by page number: where this page
//! is, how many there are, and the URLs of its neighbours.

use serde::Serialize;

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub current_page: u64,
    pub per_page: u32,
    pub total: u64,
    pub total_pages: u64,
    pub links: Links,
}

/// The next and previous pages' URLs; `null` at either end.
#[derive(Debug, Serialize, PartialEq)]
pub struct Links {
    pub next: Option<String>,
    pub previous: Option<String>,
}

impl Pagination {
    /// `link(n)` is the URL of page `n`. A page past the end still gets a
    /// `previous` link, to the last page, so a client can find its way back.
    pub fn new(page: u64, per_page: u32, total: u64, link: impl Fn(u64) -> String) -> Self {
        let total_pages = total.div_ceil(u64::from(per_page.max(1)));
        Pagination {
            current_page: page,
            per_page,
            total,
            total_pages,
            links: Links {
                next: (page < total_pages).then(|| link(page + 1)),
                previous: (page > 1 && total_pages > 0).then(|| link((page - 1).min(total_pages))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_at_the_ends() {
        let link = |p: u64| format!("/x?page={p}");
        let first = Pagination::new(1, 20, 45, link);
        assert_eq!(first.total_pages, 3);
        assert_eq!(first.links.next.as_deref(), Some("/x?page=2"));
        assert_eq!(first.links.previous, None);
        let last = Pagination::new(3, 20, 45, link);
        assert_eq!(last.links.next, None);
        assert_eq!(last.links.previous.as_deref(), Some("/x?page=2"));
        let beyond = Pagination::new(9, 20, 45, link);
        assert_eq!(beyond.links.previous.as_deref(), Some("/x?page=3"));
        let empty = Pagination::new(1, 20, 0, link);
        assert_eq!((empty.total_pages, empty.links.next), (0, None));
    }
}
