//! `meta.pagination`, the one block every paged collection answers with
//! (PRODUCT.md's collection rules): where this page is, how many there
//! are, how many rows match in all, and the URLs of its neighbours. A list
//! is paged either by page number or by `offset`; both give the same shape
//! (offset-paged lists add `offset`).

use serde::Serialize;

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// 1-based page (for offset paging, the page the offset falls in).
    pub current_page: u64,
    /// Page size: the `limit` asked for (or the default).
    pub per_page: u64,
    /// Rows skipped before this page; only on lists paged by offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Every row that matches the filters, on all pages.
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

fn total_pages(per_page: u64, total: u64) -> u64 {
    match per_page {
        0 => 0,
        n => total.div_ceil(n),
    }
}

impl Pagination {
    /// `link(n)` is the URL of page `n`. A page past the end still gets a
    /// `previous` link, to the last page, so a client can find its way back.
    pub fn by_page(page: u64, per_page: u32, total: u64, link: impl Fn(u64) -> String) -> Self {
        let per_page = u64::from(per_page);
        let total_pages = total_pages(per_page, total);
        Pagination {
            current_page: page,
            per_page,
            offset: None,
            total,
            total_pages,
            links: Links {
                next: (page < total_pages).then(|| link(page + 1)),
                previous: (page > 1 && total_pages > 0).then(|| link((page - 1).min(total_pages))),
            },
        }
    }

    /// `link(offset)` is this request with `offset` changed.
    pub fn by_offset(
        offset: u64,
        per_page: u64,
        total: u64,
        link: impl Fn(u64) -> String,
    ) -> Pagination {
        let current_page = match per_page {
            0 => 1,
            // Saturating: an admin may ask for any offset up to u64::MAX.
            n => (offset / n).saturating_add(1),
        };
        let next = offset.saturating_add(per_page);
        Pagination {
            current_page,
            per_page,
            offset: Some(offset),
            total,
            total_pages: total_pages(per_page, total),
            links: Links {
                next: (per_page > 0 && next < total).then(|| link(next)),
                previous: (offset > 0).then(|| link(offset.saturating_sub(per_page))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_at_the_ends() {
        let link = |p: u64| format!("/x?page={p}");
        let first = Pagination::by_page(1, 20, 45, link);
        assert_eq!(first.total_pages, 3);
        assert_eq!(first.links.next.as_deref(), Some("/x?page=2"));
        assert_eq!(first.links.previous, None);
        let last = Pagination::by_page(3, 20, 45, link);
        assert_eq!(last.links.next, None);
        assert_eq!(last.links.previous.as_deref(), Some("/x?page=2"));
        let beyond = Pagination::by_page(9, 20, 45, link);
        assert_eq!(beyond.links.previous.as_deref(), Some("/x?page=3"));
        let empty = Pagination::by_page(1, 20, 0, link);
        assert_eq!((empty.total_pages, empty.links.next), (0, None));
    }

    fn at(offset: u64, per_page: u64, total: u64) -> Pagination {
        Pagination::by_offset(offset, per_page, total, |o| format!("?offset={o}"))
    }

    #[test]
    fn offset_pages_count_from_one_and_round_up() {
        let p = at(40, 20, 41);
        assert_eq!((p.current_page, p.total_pages), (3, 3));
        assert_eq!(p.links.next, None);
        assert_eq!(p.links.previous.as_deref(), Some("?offset=20"));
        let p = at(0, 20, 0);
        assert_eq!((p.current_page, p.total_pages), (1, 0));
        assert_eq!((p.links.next, p.links.previous), (None, None));
        let p = at(5, 0, 0);
        assert_eq!((p.current_page, p.total_pages), (1, 0));
    }

    #[test]
    fn the_largest_offset_is_a_page_past_the_end() {
        let p = at(u64::MAX, 1, 3);
        assert_eq!((p.current_page, p.total_pages), (u64::MAX, 3));
        assert_eq!(p.links.next, None);
        assert_eq!(
            p.links.previous.as_deref(),
            Some(format!("?offset={}", u64::MAX - 1).as_str())
        );
    }

    #[test]
    fn previous_offset_stops_at_the_start() {
        let p = at(5, 20, 100);
        assert_eq!(p.links.previous.as_deref(), Some("?offset=0"));
        assert_eq!(p.links.next.as_deref(), Some("?offset=25"));
    }
}
