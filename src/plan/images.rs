//! Component images: planned with the images work.
