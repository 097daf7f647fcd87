//! Channels as their members see them: a room of type channel with its
//! size and ratings.

use super::Room;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    #[serde(flatten)]
    pub room: Room,
    pub members: u64,
    /// The members' average rating (0–99), two decimals; `None` until
    /// someone rates it.
    pub rating: Option<f64>,
    pub ratings: u64,
    /// My own rating, if I gave one.
    pub my_rating: Option<u8>,
}
