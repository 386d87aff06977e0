/**
 * UI strings. Each locale is a list in S order (a const enum: esbuild inlines the
 * indexes, so no key name costs bytes); test/i18n.test.ts checks every list is complete. `{n}` is replaced by
 * a number; `ratings` holds the four labels (1-4) separated by `|`.
 */
export const enum S {
  launcher,
  tab,
  title,
  close,
  question,
  ratings,
  comment,
  placeholder,
  email,
  capture,
  attach,
  shot,
  remove,
  uploading,
  uploaded,
  removed,
  pendingShot,
  send,
  sending,
  thanks,
  sent,
  queued,
  errSend,
  errEmail,
  errImage,
  errCapture,
  /** the note under "Capture this page" */
  hidden,
  /** the number of strings */
  count,
}

/** One locale's strings, indexed by S. */
export type Strings = readonly string[];

export const TABLES: Record<string, Strings> = {
  en: [
    'Give feedback',
    'Feedback',
    'Send feedback',
    'Close',
    'How was your experience?',
    'Terrible|Bad|Good|Amazing',
    'Tell us more',
    'What went well? What could be better?',
    'Email (optional)',
    'Capture this page',
    'Attach a file',
    'Screenshot {n}',
    'Remove screenshot {n}',
    'Uploading screenshot {n}…',
    'Screenshot {n} added',
    'Screenshot removed',
    'Uploaded when you send',
    'Send',
    'Sending…',
    'Thank you!',
    'Your feedback has been sent.',
    "It will be sent as soon as you're back online.",
    "Couldn't send your feedback. Please try again.",
    'Please enter a valid email address.',
    'Please choose an image under 10 MB.',
    "Couldn't capture the page.",
    'Form fields are hidden in page captures.',
  ],
  de: [
    'Feedback geben',
    'Feedback',
    'Feedback senden',
    'Schließen',
    'Wie war Ihre Erfahrung?',
    'Schrecklich|Schlecht|Gut|Großartig',
    'Erzählen Sie uns mehr',
    'Was lief gut? Was könnte besser sein?',
    'E-Mail (optional)',
    'Diese Seite aufnehmen',
    'Datei anhängen',
    'Screenshot {n}',
    'Screenshot {n} entfernen',
    'Screenshot {n} wird hochgeladen…',
    'Screenshot {n} hinzugefügt',
    'Screenshot entfernt',
    'Wird beim Senden hochgeladen',
    'Senden',
    'Wird gesendet…',
    'Vielen Dank!',
    'Ihr Feedback wurde gesendet.',
    'Es wird gesendet, sobald Sie wieder online sind.',
    'Feedback konnte nicht gesendet werden. Bitte erneut versuchen.',
    'Bitte eine gültige E-Mail-Adresse eingeben.',
    'Bitte ein Bild unter 10 MB wählen.',
    'Die Seite konnte nicht aufgenommen werden.',
    'Formularfelder sind in Seitenaufnahmen verborgen.',
  ],
  fr: [
    'Donner votre avis',
    'Avis',
    'Envoyer un avis',
    'Fermer',
    'Comment était votre expérience ?',
    'Terrible|Mauvais|Bien|Excellent',
    'Dites-nous en plus',
    'Qu’est-ce qui a bien marché ? Que faut-il améliorer ?',
    'E-mail (facultatif)',
    'Capturer cette page',
    'Joindre un fichier',
    'Capture {n}',
    'Supprimer la capture {n}',
    'Envoi de la capture {n}…',
    'Capture {n} ajoutée',
    'Capture supprimée',
    'Envoyée avec votre avis',
    'Envoyer',
    'Envoi…',
    'Merci !',
    'Votre avis a été envoyé.',
    'Il sera envoyé dès votre retour en ligne.',
    'Impossible d’envoyer votre avis. Veuillez réessayer.',
    'Veuillez saisir une adresse e-mail valide.',
    'Veuillez choisir une image de moins de 10 Mo.',
    'Impossible de capturer la page.',
    'Les champs de formulaire sont masqués dans les captures.',
  ],
};

const has = (k: string) => Object.prototype.hasOwnProperty.call(TABLES, k);

/** The locale option wins (an unknown one falls back to en); otherwise the browser's languages. */
export function pickLocale(option?: string, languages: readonly string[] = []): string {
  for (const l of option ? [option] : languages) {
    const x = String(l).toLowerCase();
    if (has(x)) return x;
    if (has(x.split('-')[0])) return x.split('-')[0];
  }
  return 'en';
}

/** The strings of a locale (from pickLocale). */
export const strings = (locale: string): Strings => TABLES[locale];

export const fmt = (s: string, n: number): string => s.replace('{n}', String(n));
