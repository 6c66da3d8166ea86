import Foundation

/// A model in the local Hugging Face hub cache, found by its id without any network access.
///
/// The cache is laid out as huggingface_hub writes it (`snapshot_download`, `hf download`):
///
///     <cache>/models--ORG--NAME/
///         blobs/<sha256 or git sha1>            the file contents
///         refs/main                             the commit hash a branch or tag points to
///         snapshots/<commit hash>/config.json   -> ../../blobs/...   (symbolic links)
///
/// `<cache>` is `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE` (the older name), else
/// `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`
/// (huggingface_hub `constants.py`; a leading `~` is expanded, `$VAR` inside a value is not).
/// A revision is a 40-digit commit hash (used as is) or a branch or tag name looked up in
/// `refs/` (default `main`), as `snapshot_download(local_files_only=True)` resolves it.
public enum HubCache {
    /// The cache folder and where it came from (`HF_HUB_CACHE`, ..., or `default`).
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> (path: String, source: String) {
        func value(_ k: String) -> String? { environment[k].flatMap { $0.isEmpty ? nil : expandHome($0, environment) } }
        if let p = value("HF_HUB_CACHE") { return (p, "HF_HUB_CACHE") }
        if let p = value("HUGGINGFACE_HUB_CACHE") { return (p, "HUGGINGFACE_HUB_CACHE") }
        if let h = value("HF_HOME") { return ((h as NSString).appendingPathComponent("hub"), "HF_HOME") }
        if let x = value("XDG_CACHE_HOME") {
            return ((x as NSString).appendingPathComponent("huggingface/hub"), "XDG_CACHE_HOME")
        }
        return (expandHome("~/.cache/huggingface/hub", environment), "default")
    }

    /// True for `ORG/NAME`: two non-empty parts of letters, digits, `-`, `_`, `.`, neither starting
    /// or ending with `-` or `.`, no `--` or `..` (huggingface_hub `validate_repo_id`), at most 96
    /// characters for the name.
    public static func looksLikeModelID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !s.contains("--"), !s.contains(".."), !s.hasSuffix(".git"), parts[1].count <= 96 else { return false }
        return parts.allSatisfy { p in
            guard let f = p.first, let l = p.last else { return false }
            let ok = p.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.".unicodeScalars.contains($0) }
            return ok && !"-.".contains(f) && !"-.".contains(l)
        }
    }

    /// The cache folder of a model: `models--ORG--NAME`.
    public static func repositoryFolder(_ id: String) -> String {
        "models--" + id.split(separator: "/").joined(separator: "--")
    }

    /// The snapshot folder of model `id` at `revision`.
    /// - Throws: `HFModelError(.missingFile)` naming the folders and files looked at when the model,
    ///   the revision or the snapshot is not in the cache.
    public static func snapshot(of id: String, revision: String = "main",
                                environment: [String: String] = ProcessInfo.processInfo.environment) throws(HFModelError) -> String {
        let cache = directory(environment: environment)
        let repo = (cache.path as NSString).appendingPathComponent(repositoryFolder(id))
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: repo, isDirectory: &isDir), isDir.boolValue else {
            let why = cache.source == "default" ? "the default cache (set HF_HUB_CACHE or HF_HOME to use another)" : "the cache from $\(cache.source)"
            throw HFModelError(.missingFile, file: repo,
                               "model '\(id)' is not in the Hugging Face cache: no folder \(repo) in \(why); download it first (e.g. `hf download \(id)`), or give a model folder")
        }
        let snapshots = (repo as NSString).appendingPathComponent("snapshots")
        let available = ((try? fm.contentsOfDirectory(atPath: snapshots)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        let listing = available.isEmpty ? "no snapshot is cached" : "cached snapshots: " + available.joined(separator: ", ")
        let commit: String
        if isCommitHash(revision) {
            commit = revision
        } else {
            let ref = ((repo as NSString).appendingPathComponent("refs") as NSString).appendingPathComponent(revision)
            guard let text = try? String(contentsOfFile: ref, encoding: .utf8) else {
                throw HFModelError(.missingFile, file: ref,
                                   "revision '\(revision)' of '\(id)' is not in the cache (no file \(ref)); \(listing) (choose one with --revision)")
            }
            commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !commit.isEmpty, !commit.contains("/") else {
                throw HFModelError(.invalid, file: ref, "expected a commit hash, found '\(text.prefix(80))'")
            }
        }
        let folder = (snapshots as NSString).appendingPathComponent(commit)
        guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw HFModelError(.missingFile, file: folder,
                               "snapshot \(commit) of '\(id)' (revision '\(revision)') is not in the cache (no folder \(folder)); \(listing)")
        }
        return folder
    }

    static func isCommitHash(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func expandHome(_ p: String, _ environment: [String: String]) -> String {
        guard p == "~" || p.hasPrefix("~/") else { return p }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + p.dropFirst()
    }
}
