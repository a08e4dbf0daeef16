/** The clipboard, with a fallback where the async API is missing or refused. */

/** Copy text to the clipboard; the async API needs a secure context, so fall back to a selection. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    // Inside a modal dialog everything else is inert: put the helper in the dialog.
    (document.activeElement?.closest('dialog') ?? document.body).append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}
