/*
 * i18n.c - locale and message catalogue set-up; see i18n.h.
 */
#include "i18n.h"

#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOMAIN "veld"

/* The first of $LC_ALL, $LC_MESSAGES, $LANG that is set and not empty. */
static const char *env_locale(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};

	for (size_t i = 0; i < sizeof(vars) / sizeof(*vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

/* dir/nl/LC_MESSAGES/veld.mo exists for some language: a catalogue dir. */
static int has_catalogue(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/nl/LC_MESSAGES/" DOMAIN ".mo",
		     dir) >= (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0;
}

/*
 * Where the catalogues are: $VELD_LOCALEDIR; beside the executable in a
 * build tree (BUILD/client/veld -> BUILD/locale); installed
 * (PREFIX/bin/veld -> PREFIX/share/locale); the compiled-in install dir.
 */
static void find_localedir(char *out, size_t n)
{
	char exe[PATH_MAX], *slash;
	ssize_t len;
	const char *env = getenv("VELD_LOCALEDIR");

	if (env && *env) {
		snprintf(out, n, "%s", env);
		return;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			if (snprintf(out, n, "%s/../locale", exe) < (int)n &&
			    has_catalogue(out))
				return;
			if (snprintf(out, n, "%s/../share/locale", exe) <
				    (int)n &&
			    has_catalogue(out))
				return;
		}
	}
	snprintf(out, n, "%s", VELD_LOCALEDIR_INSTALLED);
}

void veld_i18n_init(void)
{
	char dir[PATH_MAX];
	const char *want = env_locale();

	if (!setlocale(LC_ALL, "")) {
		/*
		 * The user's locale is not installed here.  glibc then
		 * translates nothing; under C.UTF-8 it still honours
		 * LANGUAGE, so derive that from the locale name ("nl_NL").
		 */
		const char *language = getenv("LANGUAGE");
		if (setlocale(LC_ALL, "C.UTF-8") && want &&
		    (!language || !*language) && strcmp(want, "C") != 0 &&
		    strcmp(want, "POSIX") != 0) {
			char lang[64];
			snprintf(lang, sizeof(lang), "%s", want);
			lang[strcspn(lang, ".@")] = 0;
			setenv("LANGUAGE", lang, 1);
		}
	}
	/* Numbers always with a decimal point (JSON, typed values). */
	setlocale(LC_NUMERIC, "C");
	find_localedir(dir, sizeof(dir));
	bindtextdomain(DOMAIN, dir);
	bind_textdomain_codeset(DOMAIN, "UTF-8");
	textdomain(DOMAIN);
}
