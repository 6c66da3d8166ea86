import GGUF
import HFModel

/// The `general.*` authorship block, gathered like gguf-py's `Metadata.load` (model card front
/// matter, then config.json `_name_or_path`, then the folder name) and written in
/// `Metadata.set_gguf_meta_model` order.
public struct GeneralMetadata: Equatable, Sendable {
    public var name, author, version, organization, finetune, basename, description, quantizedBy, sizeLabel: String?
    public var license, licenseName, licenseLink, url, doi, uuid, repoURL: String?
    public var sourceURL, sourceDOI, sourceUUID, sourceRepoURL: String?
    /// Entries as ordered (field, value) lists.
    public var baseModels: [[(String, String)]]?
    public var datasets: [[(String, String)]]?
    public var tags: [String]?
    public var languages: [String]?

    public init() {}

    public static func == (a: GeneralMetadata, b: GeneralMetadata) -> Bool { a.keyValues() == b.keyValues() }

    /// - Parameters:
    ///   - directory: the model folder (its last path component is the fallback model id).
    ///   - card: README.md front matter, if any.
    ///   - nameOrPath: config.json `_name_or_path`, if any.
    ///   - totalParams: element count of every tensor that will be written.
    ///   - shared, expert, expertCount: gguf-py `get_total_parameter_count`'s split for MoE models
    ///     (parameters outside `_exps.` tensors, one expert's parameters, experts per tensor).
    public static func gather(directory: String, card: CardValue?, nameOrPath: String?, totalParams: Int,
                              shared: Int = 0, expert: Int = 0, expertCount: Int = 0) -> GeneralMetadata {
        var m = GeneralMetadata()
        if let card { m.applyCard(card, totalParams: totalParams) }
        if let id = nameOrPath, id.filter({ $0 == "/" }).count <= 1 {
            m.applyID(id, totalParams: totalParams)
        }
        m.applyID(folderName(directory), totalParams: totalParams)
        if m.name == nil { m.name = folderName(directory) }
        if m.sizeLabel == nil && totalParams > 0 {
            m.sizeLabel = ModelNaming.sizeLabel(total: totalParams, shared: shared, expert: expert, expertCount: expertCount)
        }
        return m
    }

    static func folderName(_ directory: String) -> String {
        var d = directory
        while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
        return d.split(separator: "/").last.map(String.init) ?? d
    }

    /// Fills unset fields from a model id (`org/Name-7B-Instruct-v0.2`).
    mutating func applyID(_ id: String, totalParams: Int) {
        let c = ModelNaming.components(id, totalParams: totalParams)
        if name == nil, let f = c.fullName { name = ModelNaming.title(f) }
        if organization == nil, let o = c.organization { organization = ModelNaming.title(o) }
        if basename == nil { basename = c.basename }
        if finetune == nil { finetune = c.finetune }
        if version == nil { version = c.version }
        if sizeLabel == nil { sizeLabel = c.sizeLabel }
    }

    private mutating func applyCard(_ card: CardValue, totalParams: Int) {
        func use(_ field: WritableKeyPath<GeneralMetadata, String?>, _ key: String) {
            if self[keyPath: field] == nil, let v = card[key] { self[keyPath: field] = v.text }
        }
        let pairs: [(WritableKeyPath<GeneralMetadata, String?>, String)] = [
            (\.name, "name"), (\.author, "author"), (\.version, "version"), (\.organization, "organization"),
            (\.description, "description"), (\.finetune, "finetune"), (\.basename, "basename"), (\.sizeLabel, "size_label"),
            (\.sourceURL, "url"), (\.sourceDOI, "doi"), (\.sourceUUID, "uuid"), (\.sourceRepoURL, "repo_url"),
            (\.name, "model_name"), (\.author, "model_author"), (\.version, "model_version"), (\.organization, "model_organization"),
            (\.description, "model_description"), (\.finetune, "model_finetune"), (\.basename, "model_basename"),
            (\.sizeLabel, "model_size_label"), (\.sourceURL, "model_url"), (\.sourceDOI, "model_doi"), (\.sourceUUID, "model_uuid"),
            (\.sourceRepoURL, "model_repo_url"), (\.name, "model_name"), (\.author, "model_creator"), (\.basename, "model_type"),
        ]
        for (f, k) in pairs { use(f, k) }

        if let v = card["base_model"] ?? card["base_models"] ?? card["base_model_sources"] {
            baseModels = (baseModels ?? []) + entries(v, totalParams: totalParams)
        }
        if let v = card["datasets"] ?? card["dataset"] ?? card["dataset_sources"] {
            datasets = (datasets ?? []) + entries(v, totalParams: totalParams)
        }
        if license == nil, let l = card["license"] {
            if case .list(let items) = l { license = items.map(\.text).joined(separator: ",") } else { license = l.text }
        }
        use(\.licenseName, "license_name")
        use(\.licenseLink, "license_link")
        for key in ["tags", "pipeline_tag"] { appendList(&tags, card[key]) }
        for key in ["languages", "language"] { appendList(&languages, card[key]) }
    }

    private func appendList(_ target: inout [String]?, _ v: CardValue?) {
        guard let v else { return }
        switch v {
        case .null: return
        case .list(let items): target = (target ?? []) + items.map(\.text)
        default: target = (target ?? []) + [v.text]
        }
    }

    /// Base-model or dataset entries from a string, a list of strings (ids or URLs) or mappings.
    private func entries(_ v: CardValue, totalParams: Int) -> [[(String, String)]] {
        let items: [CardValue]
        switch v {
        case .list(let l): items = l
        case .null: items = []
        default: items = [v]
        }
        return items.map { item -> [(String, String)] in
            if case .map(let m) = item { return m.map { ($0.0, $0.1.text) } }
            guard case .string(let id) = item else { return [] }
            var e: [(String, String)] = []
            if id.hasPrefix("http://") || id.hasPrefix("https://") || id.hasPrefix("ssh://") {
                e.append(("repo_url", id))
                if let hf = huggingFaceID(fromURL: id) {
                    let c = ModelNaming.components(hf, totalParams: totalParams)
                    if let f = c.fullName { e.append(("name", ModelNaming.title(f))) }
                    if let o = c.organization { e.append(("organization", ModelNaming.title(o))) }
                    if let ver = c.version { e.append(("version", ver)) }
                }
            } else {
                let c = ModelNaming.components(id, totalParams: totalParams)
                if let f = c.fullName { e.append(("name", ModelNaming.title(f))) }
                if let o = c.organization { e.append(("organization", ModelNaming.title(o))) }
                if let ver = c.version { e.append(("version", ver)) }
                if let o = c.organization, let f = c.fullName { e.append(("repo_url", "https://huggingface.co/\(o)/\(f)")) }
            }
            return e
        }
    }

    /// `https?://huggingface.co/ORG/NAME` (exactly two components) → "ORG/NAME".
    private func huggingFaceID(fromURL u: String) -> String? {
        for prefix in ["https://huggingface.co/", "http://huggingface.co/"] where u.hasPrefix(prefix) {
            let rest = u.dropFirst(prefix.count)
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty { return String(rest) }
        }
        return nil
    }

    /// The keys in `set_gguf_meta_model` order; empty strings and lists are skipped like gguf-py does.
    public func keyValues() -> [GGUFKeyValue] {
        typealias K = GGUFKey.General
        var out: [GGUFKeyValue] = []
        func add(_ k: String, _ v: String?) { if let v, !v.isEmpty { out.append(GGUFKeyValue(k, .string(v))) } }
        add(K.name, name ?? "")
        add(K.author, author); add(K.version, version); add(K.organization, organization)
        add(K.finetune, finetune); add(K.basename, basename)
        add(K.description, description); add(K.quantizedBy, quantizedBy)
        add(K.sizeLabel, sizeLabel)
        add(K.license, license); add(K.licenseName, licenseName); add(K.licenseLink, licenseLink)
        add(K.url, url); add(K.doi, doi); add(K.uuid, uuid); add(K.repoURL, repoURL)
        add(K.sourceURL, sourceURL); add(K.sourceDOI, sourceDOI); add(K.sourceUUID, sourceUUID); add(K.sourceRepoURL, sourceRepoURL)
        let fields = ["name", "author", "version", "organization", "description", "url", "doi", "uuid", "repo_url"]
        if let b = baseModels {
            out.append(GGUFKeyValue(K.baseModelCount, .uint32(UInt32(b.count))))
            for (i, e) in b.enumerated() {
                for f in fields { if let v = e.last(where: { $0.0 == f })?.1 { add(K.baseModel(i, f), v) } }
            }
        }
        if let d = datasets {
            out.append(GGUFKeyValue(K.datasetCount, .uint32(UInt32(d.count))))
            for (i, e) in d.enumerated() {
                for f in fields { if let v = e.last(where: { $0.0 == f })?.1 { add(K.dataset(i, f), v) } }
            }
        }
        if let t = tags, !t.isEmpty { out.append(GGUFKeyValue(K.tags, .array(.string(t)))) }
        if let l = languages, !l.isEmpty { out.append(GGUFKeyValue(K.languages, .array(.string(l)))) }
        return out
    }
}
