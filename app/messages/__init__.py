"""Personalised messages: a campaign's message as a template of segments.

- ``template``: the segments (a sound, a contact field said by Asterisk, a text
  spoken by the TTS engine) and the one rule they follow (``template_problems``);
- ``values``: one contact's values as the dialplan's channel variables, and the
  problems of a contact whose values do not fit the template (``render_contact``);
- ``tts``: the engine interface (espeak-ng, or ``TTS_COMMAND``) and 8 kHz WAV output;
- ``prompts``: where a synthesized text's file is under a ``MEDIA_DIR`` (paths only);
- ``audio``: the synthesis cache under ``MEDIA_DIR`` (one file per distinct text)
  and the step the ``tts`` actor runs;
- ``prepare``: activation's pass over the contacts (variables, skipped contacts,
  the audio to make) and the purge at finalization;
- ``tables``: the tables of the above.
"""
