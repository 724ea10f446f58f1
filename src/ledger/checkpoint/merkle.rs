//! The RFC 6962 (RFC 9162 §2.1) Merkle tree over the ledger's record hashes: leaves hashed
//! with a `0x00` prefix, interior nodes with `0x01`, a tree of `n` leaves split at the
//! largest power of two below `n`. Roots and inclusion proofs agree with every other
//! implementation of the standard (Certificate Transparency, Sigstore, Go's `tlog`).

use sha2::{Digest, Sha256};

/// A SHA-256 value: a leaf, a node or a root.
pub type Hash = [u8; 32];

/// The hash of a leaf whose content is `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new().chain_update([0x00]).chain_update(data).finalize().into()
}

/// The hash of an interior node over its two children.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new().chain_update([0x01]).chain_update(left).chain_update(right).finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (`n` ≥ 2): where RFC 6962 splits a tree.
fn split(n: usize) -> usize {
    let k = n.next_power_of_two() / 2;
    if k == n { n / 2 } else { k }
}

/// The root of the tree over `leaves` (leaf hashes), by the RFC's recursive definition.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// The audit path of leaf `index` in the tree over `leaves` (RFC 6962 §2.1.1 `PATH`), from
/// the leaf's sibling up; `None` when `index` is not a leaf of the tree.
pub fn inclusion_path(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    let (mut tree, mut index) = (leaves, index);
    // Descend from the root, keeping the sibling subtree's root at every level.
    while tree.len() > 1 {
        let (left, right) = tree.split_at(split(tree.len()));
        if index < left.len() {
            path.push(root(right));
            tree = left;
        } else {
            path.push(root(left));
            index -= left.len();
            tree = right;
        }
    }
    path.reverse();
    Some(path)
}

/// The root that `path` leads to from `leaf` at `index` in a tree of `size` leaves (RFC 9162
/// §2.1.3.2); `None` when the path cannot belong to such a tree (too short, too long, or the
/// index outside it).
pub fn root_from_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut f, mut s, mut r) = (index, size - 1, *leaf);
    for p in path {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

/// The right edge of a growing tree: the roots of its perfect subtrees, largest first, so
/// that appending a leaf and taking the root need O(log n) hashes and memory.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    // (height, root) of each perfect subtree; heights strictly decrease.
    peaks: Vec<(u32, Hash)>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf (its hash).
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0, leaf);
        while let Some(&(height, left)) = self.peaks.last() {
            if height != node.0 {
                break;
            }
            self.peaks.pop();
            node = (height + 1, node_hash(&left, &node.1));
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// The root of the tree of the leaves appended so far: the peaks folded from the right,
    /// which is the RFC's split at the largest power of two at every level.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        match peaks.next() {
            None => empty_root(),
            Some(&(_, last)) => peaks.fold(last, |right, (_, left)| node_hash(left, &right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn hash(s: &str) -> Hash {
        unhex(s).try_into().unwrap()
    }

    /// The Certificate Transparency reference leaves (transparency-dev/merkle, testonly).
    fn reference_leaves() -> Vec<Hash> {
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
            .iter()
            .map(|d| leaf_hash(&unhex(d)))
            .collect()
    }

    #[test]
    fn roots_match_the_rfc_6962_reference_vectors() {
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = reference_leaves();
        let mut frontier = Frontier::new();
        for (n, want) in roots.iter().enumerate() {
            assert_eq!(root(&leaves[..n]), hash(want), "recursive root of {n} leaves");
            assert_eq!(frontier.root(), hash(want), "frontier root of {n} leaves");
            if let Some(leaf) = leaves.get(n) {
                frontier.push(*leaf);
            }
        }
    }

    #[test]
    fn inclusion_paths_match_the_rfc_6962_reference_vectors() {
        let leaves = reference_leaves();
        let cases = [
            (
                0,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (index, want) in cases {
            let want: Vec<Hash> = want.iter().map(|h| hash(h)).collect();
            assert_eq!(inclusion_path(&leaves, index), Some(want.clone()), "path of leaf {index}");
            assert_eq!(root_from_inclusion(&leaves[index], index as u64, 8, &want), Some(root(&leaves)));
        }
    }

    /// Every leaf of every tree of 1..=20 leaves: the path leads to the root, the
    /// frontier's root is the recursive one, and a path for another leaf or index, or with
    /// one hash changed, leads elsewhere. (A path may fit two sizes, leaf 0 of 3 and of 4:
    /// the checkpoint's signature binds the size.)
    #[test]
    fn every_inclusion_proof_of_trees_up_to_20_leaves_verifies_and_no_altered_one_does() {
        let all: Vec<Hash> = (0u8..20).map(|i| leaf_hash(&[i, i.wrapping_mul(7)])).collect();
        let mut frontier = Frontier::new();
        for n in 1..=all.len() {
            let leaves = &all[..n];
            frontier.push(leaves[n - 1]);
            let want = root(leaves);
            assert_eq!(frontier.root(), want, "frontier root of {n} leaves");
            let size = n as u64;
            for (i, leaf) in leaves.iter().enumerate() {
                let path = inclusion_path(leaves, i).unwrap();
                assert!(path.len() <= 5, "path of {i} in {n} is {} long", path.len());
                let index = i as u64;
                assert_eq!(root_from_inclusion(leaf, index, size, &path), Some(want), "leaf {i} of {n}");
                assert_ne!(root_from_inclusion(&leaf_hash(b"other"), index, size, &path), Some(want));
                assert_ne!(root_from_inclusion(leaf, index + 1, size, &path), Some(want), "leaf {i} of {n}");
                for k in 0..path.len() {
                    let mut bent = path.clone();
                    bent[k][0] ^= 1;
                    assert_ne!(root_from_inclusion(leaf, index, size, &bent), Some(want), "leaf {i} of {n}");
                }
            }
            assert_eq!(inclusion_path(leaves, n), None);
            assert_eq!(root_from_inclusion(&leaves[0], size, size, &[]), None);
        }
    }
}
