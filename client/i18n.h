/*
 * i18n.h - veld's messages in the user's language (gettext, text domain
 * "veld"), chosen by LANGUAGE / LC_ALL / LC_MESSAGES / LANG as usual.
 *
 * Messages are written in English in the source and marked _("...");
 * po/nl.po holds the Dutch.  The catalogues (.mo) are built by msgfmt
 * into the build directory and installed under share/locale; veld looks
 * for them next to its own executable, so both a build tree and an
 * installed veld find them (VELD_LOCALEDIR overrides).
 */
#ifndef VELD_CLIENT_I18N_H
#define VELD_CLIENT_I18N_H

#include <libintl.h>

#define _(s) gettext(s)
#define N_(s) (s)

/*
 * veld_i18n_init - set the locale from the environment and bind the text
 * domain.  Numbers keep the C locale (a decimal point, never a comma), so
 * JSON and typed values read the same in every language.  When the user's
 * locale is not installed on the machine, glibc would fall back to English;
 * then the messages still follow LANG (through LANGUAGE, over C.UTF-8).
 */
void veld_i18n_init(void);

#endif /* VELD_CLIENT_I18N_H */
