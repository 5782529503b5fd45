//! Building component images: arrives with the images work.
