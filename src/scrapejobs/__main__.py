from scrapejobs.cli import main

main()
