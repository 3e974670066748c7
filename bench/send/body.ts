// The campaign body every send benchmark uses (bench/send, profile-worker.ts).

/** ~5 KB of HTML with personalisation in several places and five links. */
export function sendBenchBody(): string {
  const para = (i: number) =>
    `<p>Paragraph ${i}: our spring range is here, {{ contact.first_name | default: "friend" }}. Fabrics, fits and colours chosen with care, ` +
    `made to last and priced fairly. Free returns for 60 days and repairs for life on everything we make. <a href="https://shop.example/item/${i}?utm_source=mw">See item ${i}</a>.</p>`;
  return `<html><body><h1>Hello {{ contact.first_name | default: "there" }} {{ contact.last_name }}</h1>${Array.from({ length: 14 }, (_, i) => para(i)).join('')}<p>Sent to {{ contact.email }}. <a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ workspace.postal_address }}</p></body></html>`;
}

