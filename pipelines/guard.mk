# pipelines/guard.mk: the values a pipeline hands to Make and the shell, checked before any work,
# and an interrupted run's stale temp files swept. Included first by pipelines/demo.mk and
# pipelines/real.mk (which set PIPE before); not meant to be run alone.
#
# A value that becomes a Make word (a target, a prerequisite, a $(wildcard) argument, text that
# $(eval) reads again) or sits between a recipe's quotes must be plain: Make reads blanks as word
# separators, ; as a recipe, | as order-only, : and = as rule and variable syntax, % as a pattern,
# * ? [ as globs, ( ) as archive members, # as a comment, $ as a reference and a leading ~ as a
# home folder; the shell reads \ ` " ' $ inside the recipes' quotes. Such a value is refused with
# one line naming it (the variable, or the config key it came from) instead of being run:
#   $(call plain_path,VALUE,WHO)     a path (empty passes: the including file says when one is needed)
#   $(call plain_number,VALUE,WHO)   a number: digits, . e E + - only
#   $(call plain_choice,VALUE,CHOICES,WHO)   one of the words CHOICES (cpu cuda)
#   $(call plain_flags,VALUE,WHO)    words of --options and numbers (CLIP_INIT)
#   $(call plain_count,VALUE,WHO)    a whole number >= 1, no leading 0 (RANKS)
#   $(call plain_args,VALUE,WHO)     words of letters, digits and -_.,=:/+@ only (MPI_FLAGS: a
#                                    launcher's options, "--mca btl self,vader", "-x NCCL_DEBUG=INFO")
# A value that must keep such characters (real.mk's data_dir, whose blanks must work) never
# becomes a Make word: it reaches the shell only as $(call shq,VALUE), one single-quoted word.
#   $(call sweep_temps,FOLDER)       remove FOLDER's stale temp files (see below)

empty  :=
space  := $(empty) $(empty)
tab    := $(empty)	$(empty)
define newline


endef
lparen := (
rparen := )
hash   := \#
dollar := $$
comma  := ,
# the characters refused in a plain path, and as the messages show them
PATH_BAD   := ; | : = % * ? [ ] $(lparen) $(rparen) $(hash) $(dollar) \ ` " '
PATH_RULE  := a path without blanks or any of ;|:=%*?[]()\#$$\`"' (Make or the shell would read them)

# shq VALUE: VALUE as one shell word, single-quoted with each ' as '\'' (any text but NUL)
shq = '$(subst ','\'',$(1))'

# path_flaw VALUE: non-empty when VALUE is not a plain path
path_flaw = $(findstring $(space),$(1))$(findstring $(tab),$(1))$(findstring $(newline),$(1))$(filter ~%,$(1))$(strip \
  $(foreach c,$(PATH_BAD),$(if $(findstring $(c),$(1)),$(c))))
plain_path = $(if $(call path_flaw,$(1)),$(error $(PIPE): $(2): expected $(PATH_RULE), found '$(call shown,$(1))'))
# shown VALUE: VALUE for a one-line message (a newline as \n)
shown = $(subst $(newline),\n,$(1))

# a number as cfg writes one (0.0001, 1e-4, 256) or a command line gives one
NUMBER_CHARS := 0 1 2 3 4 5 6 7 8 9 . e E + -
strip_chars = $(if $(2),$(call strip_chars,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
plain_number = $(if $(and $(filter 1,$(words $(1))),$(if $(call strip_chars,$(1),$(NUMBER_CHARS)),,y)),,$(error \
  $(PIPE): $(2): expected a number, found '$(1)'))
# plain_choice VALUE,CHOICES,WHO: VALUE is one of the words CHOICES
plain_choice = $(if $(and $(filter 1,$(words $(1))),$(filter $(2),$(1))),,$(error \
  $(PIPE): $(3): expected one of $(subst $(space),|,$(strip $(2))), found '$(1)'))
# flags: each word an --option (letters, digits, -) or a number
FLAG_CHARS := $(NUMBER_CHARS) a b c d e f g h i j k l m n o p q r s t u v w x y z
# (a tab or a newline between the words is refused too: a newline would end the recipe's line)
lines_flaw = $(findstring $(tab),$(1))$(findstring $(newline),$(1))
plain_flags = $(if $(call lines_flaw,$(1)),$(error $(PIPE): $(2): expected --options and numbers on one line, found \
  '$(call shown,$(1))'))$(foreach w,$(1),$(if $(call strip_chars,$(w),$(FLAG_CHARS)),$(error \
  $(PIPE): $(2): expected --options and numbers, found '$(w)' in '$(1)')))

# a count: digits only, the first not 0
DIGITS := 0 1 2 3 4 5 6 7 8 9
plain_count = $(if $(and $(filter 1,$(words $(1))),$(if $(call strip_chars,$(1),$(DIGITS)),,y),$(filter-out 0%,$(1))),,$(error \
  $(PIPE): $(2): expected a whole number >= 1, found '$(call shown,$(1))'))
# args: each word of ARG_CHARS (no blank within a word, nothing the shell or Make would read)
ARG_CHARS := $(FLAG_CHARS) A B C D E F G H I J K L M N O P Q R S T U V W X Y Z _ , = / : @
plain_args = $(if $(call lines_flaw,$(1)),$(error $(PIPE): $(2): expected words on one line, found \
  '$(call shown,$(1))'))$(foreach w,$(1),$(if $(call strip_chars,$(w),$(ARG_CHARS)),$(error \
  $(PIPE): $(2): expected words of letters$(comma) digits and -_.$(comma)=:/+@ only$(comma) found '$(w)' in '$(call shown,$(1))')))

# who VAR,KEY: how a message names a setting: the config key KEY, or VAR when given on the command
# line or in the environment (the pipelines read cfg/*.yml through bin/cfg; see real.mk)
who = $(if $(filter command line environment%,$(origin $(1))),$(1) ($(origin $(1))),config key $(2) ($(CFG)))

# sweep_temps FOLDER: an interrupted run (kill -9, a power cut) can leave the temp files of
# lib/core/atomic_file.h, "<dir>/.<name>.tmp.XXXXXX" (46 MB for a random Inception), that no
# exit handler removed. They are removed when the run goes on, unless a live process holds one
# open (another make on the same run, still writing it). FOLDER is a plain path; how many were
# removed is said in one line on stderr.
define sweep_temps_sh
d=$$(cd $(call shq,$(1)) 2>/dev/null && pwd -P) || exit 0
held=$$(find /proc/[0-9]*/fd -type l -lname "$$d/*" -printf '%l\n' 2>/dev/null || true)
n=0
while IFS= read -r -d '' f; do
    grep -qxF -- "$$f" <<< "$$held" && continue
    rm -f -- "$$f" && n=$$((n + 1))
done < <(find "$$d" -type f -name '.*.tmp.*' -print0 2>/dev/null)
[ $$n -eq 0 ] || echo "$(PIPE): removed $$n stale temp file(s) of an interrupted run under $(1)"
endef
sweep_temps = $(shell bash -c $(call shq,$(call sweep_temps_sh,$(1))) >&2)
