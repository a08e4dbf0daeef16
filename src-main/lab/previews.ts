/**
 * The Lab's kept merge previews (LabApi listMergePreviews, keepMergePreview,
 * saveMergePreview, deleteMergePreview): stored records of what the Merge page
 * evaluated, viewed with what was deleted since, and marked with what each was saved as.
 */
import type { StoredPreview } from '../store/merge-previews.ts';
import type { Store } from '../store/store.ts';
import { MNIST_CLASSES } from '../data/mnist.ts';
import { type AdapterView, type EvalSummary, LabError, type MergePreview, type MergePreviewView, type MergeRequest, type ModelView } from '../contract/api.ts';

/** Previews kept before data sets existed were all on MNIST, and carry no class names. */
const withClasses = (e: EvalSummary): EvalSummary => (Array.isArray(e.classes) ? e : { ...e, classes: MNIST_CLASSES });

function view(p: StoredPreview, adapterExists: (id: number) => boolean): MergePreviewView {
  return {
    id: p.id,
    request: p.request,
    base: withClasses(p.result.base),
    adapters: p.result.adapters.map(withClasses),
    combined: withClasses(p.result.combined),
    baseName: p.baseName,
    adapterNames: p.adapterNames,
    createdAt: p.createdAt,
    baseDeleted: p.baseModelId === null,
    deletedAdapters: p.request.adapters.map((a) => a.adapterId).filter((id) => !adapterExists(id)),
    saved: p.saved && { ...p.saved, deleted: p.saved.id === null },
  };
}

function viewOne(store: Store, p: StoredPreview): MergePreviewView {
  return view(p, (id) => store.adapters.find(id) !== undefined);
}

function requirePreview(store: Store, id: number): StoredPreview {
  const p = store.mergePreviews.find(id);
  if (!p) throw new LabError(`merge preview ${id} does not exist`, 404);
  return p;
}

/** Newest first. */
export function listPreviews(store: Store): MergePreviewView[] {
  const adapters = new Set(store.adapters.list().map((a) => a.id));
  return store.mergePreviews.list().map((p) => view(p, (id) => adapters.has(id)));
}

/** Keeps what `previewMerge` computed for `req`, with the base's and adapters' names now. */
export function keepPreview(store: Store, req: MergeRequest, result: MergePreview): MergePreviewView {
  const base = store.models.find(req.baseModelId);
  // Deleted while the preview was evaluated: nothing to keep it against.
  if (!base) throw new LabError(`model ${req.baseModelId} does not exist`, 404);
  const stored = store.mergePreviews.create({
    request: req,
    result,
    baseName: base.name,
    adapterNames: req.adapters.map((a) => store.adapters.find(a.adapterId)?.name ?? `adapter #${a.adapterId}`),
  });
  return viewOne(store, stored);
}

/**
 * Saves the preview's combination through `save` (the Lab's saveMerge, without the
 * preview's testLimit) and records what it was saved as on the preview.
 */
export async function savePreview(
  store: Store,
  id: number,
  output: 'model' | 'adapter',
  save: (req: MergeRequest) => Promise<ModelView | AdapterView>,
): Promise<{ preview: MergePreviewView; saved: ModelView | AdapterView }> {
  const before = viewOne(store, requirePreview(store, id));
  if (before.baseDeleted) throw new LabError(`preview ${id} cannot be saved: its base model “${before.baseName}” was deleted`, 409);
  if (before.deletedAdapters.length) {
    const names = before.deletedAdapters.map((a) => `“${before.adapterNames[before.request.adapters.findIndex((x) => x.adapterId === a)] ?? a}”`);
    throw new LabError(`preview ${id} cannot be saved: adapter${names.length > 1 ? 's' : ''} ${names.join(', ')} ${names.length > 1 ? 'were' : 'was'} deleted`, 409);
  }
  const { testLimit: _testLimit, ...req } = before.request;
  const saved = await save(req);
  store.mergePreviews.markSaved(id, { kind: output, id: saved.id, name: saved.name });
  // Deleted while saving: the answer still says what it was saved as.
  const after = store.mergePreviews.find(id);
  const preview = after ? viewOne(store, after) : { ...before, saved: { kind: output, id: saved.id, name: saved.name, at: Date.now(), deleted: false } };
  return { preview, saved };
}

export function deletePreview(store: Store, id: number): void {
  if (!store.mergePreviews.delete(id)) throw new LabError(`merge preview ${id} does not exist`, 404);
}
